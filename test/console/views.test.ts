/**
 * The web console in real Chromium against the real API server (a real SQLite file, a stepped clock): each view shows
 * the figures the API answers (read here independently, with a bearer token), as the signed-in role and team scope
 * may see them. One browser for the file; each user gets its own context (its own cookies).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'mocha';
import type { BrowserContext, Page } from 'playwright-core';
import type { BudgetForecastView, ChargebackResponse, DecisionView, Status } from '../../src/api/types.ts';
import type { Task } from '../../src/core/task.ts';
import { startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { launchChromium, type TestBrowser } from './helpers/browser.ts';
import { REPO, REASON_LIMIT, REASON_ROOM, apiGet, consoleLink, dollars, makeToken, seed, signedIn, type Seed } from './helpers/fixture.ts';

const AXE = readFileSync(fileURLToPath(import.meta.resolve('axe-core/axe.min.js')), 'utf8');
/** `npm run screenshots` sets this to docs/console; otherwise the shots go to a temp folder the test deletes. */
const SHOTS_DIR = process.env.SPILLWAY_SCREENSHOTS_DIR;

describe('web console views in Chromium', function () {
  this.timeout(60_000);
  let h: ApiHarness;
  let chromium: TestBrowser;
  let data: Seed;
  let shots: string;
  let visionSubmitter: string;
  let contexts: BrowserContext[] = [];
  const newContext = async (): Promise<BrowserContext> => {
    const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    return context;
  };

  before(async () => {
    h = await startApiHarness();
    data = seed(h);
    visionSubmitter = makeToken(h, 'submitter', 'vision-ci', { teams: ['vision'] });
    chromium = await launchChromium();
    shots = SHOTS_DIR ? resolve(REPO, SHOTS_DIR) : mkdtempSync(join(tmpdir(), 'spillway-shots-'));
    mkdirSync(shots, { recursive: true });
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    contexts = [];
    await chromium?.close();
    await h?.close();
    if (!SHOTS_DIR && shots) rmSync(shots, { recursive: true, force: true });
  });

  /** Opens a view and waits until it shows data read from the API. */
  async function open(page: Page, hash: string, ready: string): Promise<void> {
    await page.goto(`${h.server.url}/#/${hash}`);
    await page.waitForSelector(`main[data-view="${hash.split('/')[0]}"] ${ready}`);
  }

  /** No serious or critical accessibility violation (axe-core), and a screenshot of the view. */
  async function audit(page: Page, name: string): Promise<void> {
    await page.evaluate(AXE);
    const violations = (await page.evaluate(async () => {
      const result = await (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe.run();
      return result.violations;
    })) as { id: string; impact: string; help: string; nodes: { target: unknown }[] }[];
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(
      bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
      [],
    );
    const file = join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.deepEqual([...readFileSync(file).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  }

  const textOf = async (page: Page, selector: string): Promise<string> =>
    ((await page.locator(selector).first().textContent()) ?? '').trim();

  it('signs in through the link `spillway console` prints; the Pool view shows the status the API answers, live', async () => {
    const link = await consoleLink(h.server.url, h.tokens.admin);
    const page = await (await newContext()).newPage();
    await page.goto(link);
    await page.waitForSelector('main[data-view="pool"] tr[data-location]');
    const status = await apiGet<Status>(h.server.url, h.tokens.admin, '/v1/status');
    // The private site, and the local cloud's zone with both cloud agents.
    assert.deepEqual(
      status.locations.map((l) => [l.location, l.agents]),
      [
        ['private:lab', 1],
        ['local:test:local-a', 2],
      ],
    );
    assert.equal(await page.locator('tr[data-location]').count(), status.locations.length);
    for (const l of status.locations) {
      const row = `tr[data-location="${l.location}"]`;
      assert.equal(await textOf(page, `${row} [data-field="agents"]`), String(l.agents), l.location);
      assert.equal(Number(await textOf(page, `${row} [data-field="cpuUsed"]`)), l.allocated.cpuMillis / 1000);
      assert.equal(Number(await textOf(page, `${row} [data-field="cpuFree"]`)), l.free.cpuMillis / 1000);
      assert.equal(Number(await textOf(page, `${row} [data-field="gpusFree"]`)), l.free.gpus);
      assert.equal(dollars(await textOf(page, `${row} [data-field="pricePerHourUsd"]`)), l.pricePerHourUsd);
    }
    // Two cloud agents at $0.50 an hour: the figure the API answers, which the test also knows on its own.
    assert.equal(status.cloudSpendPerHourUsd, 1);
    assert.equal(dollars(await textOf(page, '[data-figure="cloudSpendPerHourUsd"]')), 1);
    assert.equal(await textOf(page, '[data-figure="pending"]'), String(data.pendingVision.length + data.pendingMl.length));
    assert.match(await textOf(page, 'main p:has([data-figure="pending"])'), /Tasks: 6 pending, 2 running\.$/);
    // The chart of the last 24 hours has a series per location.
    await page.waitForSelector('.chart canvas');
    // Live: a new agent appears without reloading the page.
    h.store.agents.insert(
      {
        name: 'lab-2',
        location: { kind: 'private', site: 'annex' },
        capacity: { cpuMillis: 8000, memoryMiB: 16384, gpus: 1, netMbps: 1000 },
        labels: {},
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: 'registered',
        instanceId: null,
        providerId: null,
        intentId: null,
      },
      h.clock.now(),
    );
    await page.waitForSelector('tr[data-location="private:annex"] [data-field="gpusFree"]:text-is("1")', { timeout: 10_000 });
    await audit(page, 'pool');
  });

  it('the sign-in page passes the accessibility check', async () => {
    const page = await (await newContext()).newPage();
    await page.goto(`${h.server.url}/console/signin`);
    await page.waitForSelector('#token');
    await audit(page, 'signin');
  });

  it('the link works once, and not after it expired', async () => {
    const page = await (await newContext()).newPage();
    const link = await consoleLink(h.server.url, h.tokens.finance);
    assert.equal((await page.goto(link))?.status(), 200);
    await page.waitForSelector('main[data-view="pool"]');
    const again = await (await newContext()).newPage();
    const reused = await again.goto(link);
    assert.equal(reused?.status(), 401);
    assert.match(await again.locator('[role="alert"]').innerText(), /expired or was used/);
    assert.equal((await again.context().cookies()).length, 0);

    const late = (await signInLinkFor(h.tokens.finance)).toString();
    h.clock.advance(5 * 60_000);
    const expired = await (await newContext()).newPage();
    assert.equal((await expired.goto(late))?.status(), 401);
    assert.equal((await expired.context().cookies()).length, 0);
  });

  async function signInLinkFor(token: string): Promise<string> {
    const { signInLink } = await import('./helpers/fixture.ts');
    return signInLink(h.server.url, token);
  }

  it('Waiting work groups the pending tasks by stored reason and by team as the API lists them; a task page shows its history', async () => {
    const { page } = await signedIn(newContext, h.server.url, h.tokens.admin);
    await open(page, 'waiting', 'tr[data-group="reason"]');
    const { tasks } = await apiGet<{ tasks: Task[] }>(h.server.url, h.tokens.admin, '/v1/tasks?state=pending&limit=1000');
    const count = (pick: (t: Task) => string, key: string): number => tasks.filter((t) => pick(t) === key).length;
    // Independently of both: the seed stored 3 + 3 tasks under two reasons, 4 + 2 under two teams.
    assert.equal(count((t) => t.reason, REASON_ROOM), 3);
    assert.equal(count((t) => t.reason, REASON_LIMIT), 3);
    for (const [group, pick] of [
      ['reason', (t: Task) => t.reason],
      ['team', (t: Task) => t.owner.team],
    ] as const) {
      const keys = [...new Set(tasks.map(pick))];
      assert.equal(await page.locator(`tr[data-group="${group}"]`).count(), keys.length);
      for (const key of keys) {
        const shown = await textOf(page, `tr[data-group="${group}"][data-key="${key}"] [data-field="count"]`);
        assert.equal(Number(shown), count(pick, key), `${group} ${key}`);
      }
    }
    await audit(page, 'waiting');

    await page.click(`a[href="#/tasks/${data.pendingVision[3]}"]`);
    await page.waitForSelector('main[data-view="task"] [data-figure="state"]');
    assert.equal(await textOf(page, '[data-figure="state"]'), 'pending');
    assert.equal(await textOf(page, '[data-figure="reason"]'), REASON_LIMIT);
    await page.goto(`${h.server.url}/#/tasks/${data.runningVision}`);
    await page.waitForSelector('li[data-event="started"]');
    const runs = await apiGet<{ runs: { agentId: string }[] }>(
      h.server.url,
      h.tokens.admin,
      `/v1/tasks/${data.runningVision}/runs`,
    );
    assert.equal(runs.runs.length, 1);
    assert.match(await textOf(page, 'li[data-event="started"]'), new RegExp(`started on agent ${runs.runs[0]?.agentId}`));
    assert.equal(await textOf(page, '[data-figure="state"]'), 'running');
    await audit(page, 'task');
  });

  it('Spend and budgets shows each budget against its cap with the forecast the API answers', async () => {
    const { page } = await signedIn(newContext, h.server.url, h.tokens.finance);
    await open(page, 'spend', 'tr[data-budget]');
    const { forecasts } = await apiGet<{ forecasts: BudgetForecastView[] }>(
      h.server.url,
      h.tokens.finance,
      '/v1/budgets/forecasts',
    );
    assert.deepEqual(forecasts.map((f) => f.name).sort(), ['all-month', 'vision-day']);
    for (const f of forecasts) {
      const row = `tr[data-budget="${f.name}"]`;
      assert.equal(dollars(await textOf(page, `${row} [data-field="capUsd"]`)), f.capUsd);
      assert.equal(dollars(await textOf(page, `${row} [data-field="spentUsd"]`)), f.spentUsd);
      assert.equal(dollars(await textOf(page, `${row} [data-field="forecastUsd"]`)), f.forecastUsd);
    }
    // The vision agent has run for vision alone since the seed at $0.50/h (the test's own arithmetic, per second).
    const seconds = Math.floor((h.clock.now() - data.startedAtMs) / 1000);
    assert.equal(forecasts.find((f) => f.name === 'vision-day')?.spentUsd, Math.round((500_000 * seconds) / 3600) / 1e6);
    assert.ok((await page.locator('tr[data-spend="hour"]').count()) >= 1);
    await audit(page, 'spend');
  });

  it('Chargeback shows the report the API answers and downloads it as CSV', async () => {
    const { page } = await signedIn(newContext, h.server.url, h.tokens.finance);
    await open(page, 'chargeback', 'tr[data-row]');
    const report = await apiGet<ChargebackResponse>(h.server.url, h.tokens.finance, '/v1/reports/chargeback?by=team');
    // The private agent's idle time is nobody's: `(unattributed)`.
    assert.deepEqual(report.rows.map((r) => r.team).sort(), ['(unattributed)', 'ml', 'vision']);
    for (const row of [...report.rows.map((r) => ({ key: r.team, figures: r })), { key: '(total)', figures: report.totals }]) {
      for (const field of ['privateUsd', 'onDemandUsd', 'spotUsd', 'idleUsd', 'totalUsd'] as const) {
        const shown = await textOf(page, `tr[data-row="${row.key}"] [data-field="${field}"]`);
        assert.equal(dollars(shown), row.figures[field], `${row.key} ${field}`);
      }
    }
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[download]')]);
    const csvPath = await download.path();
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    // Every cell quoted (see test/console/review.test.ts).
    const quoted = (cells: readonly unknown[]): string => cells.map((c) => `"${String(c)}"`).join(',');
    assert.equal(lines[0], quoted(['team', 'project', 'job', 'privateUsd', 'onDemandUsd', 'spotUsd', 'idleUsd', 'cloudUsd', 'totalUsd']));
    assert.equal(lines.length, report.rows.length + 1);
    for (const row of report.rows) {
      assert.ok(lines.includes(quoted([row.team, '', '', row.privateUsd, row.onDemandUsd, row.spotUsd, row.idleUsd, row.cloudUsd, row.totalUsd])), row.team);
    }
    await audit(page, 'chargeback');
    // A window's report is read once a minute (and when the window changes), not every 2 s like the live views.
    assert.match((await page.textContent('main')) ?? '', /refreshes every 60 s/);

    // Another grouping and window: by project, from the seed's day on.
    await page.selectOption('#cb-by', 'project');
    await page.fill('#cb-from', new Date(data.startedAtMs).toISOString().slice(0, 10));
    const byProject = await apiGet<ChargebackResponse>(
      h.server.url,
      h.tokens.finance,
      `/v1/reports/chargeback?by=project&from=${new Date(data.startedAtMs).toISOString().slice(0, 10)}`,
    );
    assert.ok(byProject.rows.some((r) => r.team === 'vision' && r.project === 'vision-p'));
    // Wait for the new window's table (the page reads it after the controls change), then compare it row by row.
    await page.waitForFunction((n) => {
      type Doc = { querySelectorAll(s: string): { length: number }; querySelector(s: string): unknown };
      const doc = (globalThis as unknown as { document: Doc }).document;
      return doc.querySelectorAll('tbody tr[data-row]').length === n && doc.querySelector('tr[data-row="vision/vision-p"]') !== null;
    }, byProject.rows.length);
    assert.equal(await page.locator('tbody tr[data-row]').count(), byProject.rows.length);
    for (const row of byProject.rows) {
      const shown = await textOf(page, `tr[data-row="${row.team}/${row.project ?? ''}"] [data-field="totalUsd"]`);
      assert.equal(dollars(shown), row.totalUsd, `${row.team}/${row.project}`);
    }
  });

  it("Decisions lists the API's recent decisions with their reasons, and each provider's state", async () => {
    const { page } = await signedIn(newContext, h.server.url, h.tokens.admin);
    await open(page, 'decisions', 'tr[data-decision]');
    const { decisions } = await apiGet<{ decisions: DecisionView[] }>(h.server.url, h.tokens.admin, '/v1/decisions?limit=50');
    assert.equal(decisions.length, 3);
    assert.equal(await page.locator('tr[data-decision]').count(), decisions.length);
    for (const d of decisions) {
      assert.equal(await textOf(page, `tr[data-decision="${d.id}"] [data-field="reason"]`), d.reason);
      const owners = (d.owners ?? []).map((o) => `${o.team}/${o.project} (${o.share * 100}%)`).join(', ') || '—';
      assert.equal(await textOf(page, `tr[data-decision="${d.id}"] [data-field="owners"]`), owners);
    }
    const status = await apiGet<Status>(h.server.url, h.tokens.admin, '/v1/status');
    for (const p of status.providers) {
      assert.equal(await textOf(page, `tr[data-provider="${p.id}"] [data-field="health"]`), p.health);
    }
    await audit(page, 'decisions');
  });

  it('a submitter scoped to vision sees only its team: waiting work, tasks, decisions; no chargeback', async () => {
    const { page } = await signedIn(newContext, h.server.url, visionSubmitter);
    await open(page, 'waiting', 'tr[data-group="team"]');
    assert.deepEqual(await page.locator('tr[data-group="team"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key'))), ['vision']);
    assert.equal(Number(await textOf(page, '[data-figure="pendingCount"]')), data.pendingVision.length);
    assert.equal(await page.locator('nav a[href="#/chargeback"]').count(), 0);
    await page.goto(`${h.server.url}/#/tasks/${data.pendingMl[0]}`);
    await page.waitForSelector('main[data-view="task"] [role="alert"]');
    await open(page, 'decisions', 'tr[data-decision]');
    const { decisions } = await apiGet<{ decisions: DecisionView[] }>(h.server.url, visionSubmitter, '/v1/decisions');
    assert.equal(decisions.length, 1);
    assert.deepEqual(decisions[0]?.owners?.map((o) => o.team), ['vision']);
    assert.equal(await page.locator('tr[data-decision]').count(), 1);
    assert.ok(await page.locator(`tr[data-decision="${decisions[0]?.id}"]`).isVisible());
  });

  it('Policy (admin): a bad value shows its field’s error and changes nothing; a good one is saved', async () => {
    const { page } = await signedIn(newContext, h.server.url, h.tokens.admin);
    await open(page, 'policy', '[data-field="idleTtlMs"] input');
    const before = h.store.policy.get();
    await page.fill('#policy-idleTtlMs', '-5');
    await page.click('button[data-action="save"]');
    const error = page.locator('[data-field="idleTtlMs"] .field-error');
    await error.waitFor();
    assert.match(await error.innerText(), /./);
    assert.equal(await page.locator('#policy-idleTtlMs').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('.field-error').count(), 1);
    assert.deepEqual(h.store.policy.get(), before);
    await audit(page, 'policy');

    await page.fill('#policy-idleTtlMs', '45000');
    await page.click('button[data-action="save"]');
    await page.waitForSelector('[role="status"]:text("Saved.")');
    assert.deepEqual(h.store.policy.get(), { ...before, idleTtlMs: 45_000 });
  });

  it('Policy (admin): pause and resume take a confirmation', async () => {
    const { page } = await signedIn(newContext, h.server.url, h.tokens.admin);
    await open(page, 'policy', 'button[data-action="pause"]');
    await page.click('button[data-action="pause"]');
    assert.equal(h.store.policy.get().paused, false, 'paused before the confirmation');
    await page.click('button[data-action="confirm"]');
    await page.waitForSelector('[data-figure="paused"]:text-is("paused")');
    assert.equal(h.store.policy.get().paused, true);
    await page.click('button[data-action="resume"]');
    await page.click('button[data-action="confirm"]');
    await page.waitForSelector('[data-figure="paused"]:text-is("allowed")');
    assert.equal(h.store.policy.get().paused, false);
  });

  it('finance cannot pause: no button, and the API refuses the session even with its CSRF token', async () => {
    const { page } = await signedIn(newContext, h.server.url, h.tokens.finance);
    await open(page, 'policy', '[data-field="idleTtlMs"] input');
    assert.equal(await page.locator('button[data-action="pause"]').count(), 0);
    assert.equal(await page.locator('#policy-idleTtlMs').isEditable(), false);
    const status = await page.evaluate(async () => {
      const session = (await (await fetch('/console/session')).json()) as { csrfToken: string };
      const res = await fetch('/v1/pause', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: '{}',
      });
      return res.status;
    });
    assert.equal(status, 403);
    assert.equal(h.store.policy.get().paused, false);
  });

  it('signing out ends the session: the API no longer takes its cookie', async () => {
    const { context, page } = await signedIn(newContext, h.server.url, h.tokens.admin);
    const [cookie] = await context.cookies();
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.path, '/');
    await page.click('button:text("Sign out")');
    await page.waitForURL(/\/console\/signin$/);
    const res = await fetch(`${h.server.url}/v1/status`, { headers: { cookie: `${cookie?.name}=${cookie?.value}` } });
    assert.equal(res.status, 401);
  });
});
