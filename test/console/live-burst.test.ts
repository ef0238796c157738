/**
 * The acceptance demo, automated: a real `spillway serve` (two private agents of 2 CPUs, the local cloud, short grace
 * and idle times), the link `spillway console` prints opened in Chromium, and a burst submitted with `spillway submit`.
 * The Pool view, left open, shows the pool grow into the local cloud and shrink back, without a reload.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'mocha';
import type { Agent } from '../../src/core/agent.ts';
import { adminClient, cleanup, CLI, makeCluster, ServeProcess, waitHealthy, type Cluster } from '../e2e/harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { launchChromium, type TestBrowser } from './helpers/browser.ts';
import { consoleLink } from './helpers/fixture.ts';

const run = promisify(execFile);

describe('web console: a burst, live in the Pool view', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let serve: ServeProcess | undefined;
  let chromium: TestBrowser | undefined;

  before(async () => {
    cluster = await makeCluster({
      pool: { heartbeatIntervalMs: 300, lostAfterMs: 5_000, privateAgents: { count: 2, cpu: 2, memory: '4Gi' } },
    });
    serve = new ServeProcess(cluster);
    await waitHealthy(cluster.url, serve);
    const api = adminClient(cluster);
    try {
      await waitFor('two private agents', async () => {
        const { agents } = await api.get<{ agents: Agent[] }>('/v1/agents?state=registered');
        return agents.filter((a) => a.location.kind === 'private').length === 2;
      });
    } finally {
      api.close();
    }
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await serve?.stop().catch(() => undefined);
    await cleanup(cluster, [serve?.child]);
  });

  it('shows the pool growing into the local cloud and shrinking back', async () => {
    assert.ok(cluster && chromium);
    const token = readFileSync(join(cluster.home, 'admin.token'), 'utf8').trim();
    const page = await (await chromium.browser.newContext()).newPage();
    await page.goto(await consoleLink(cluster.url, token));
    await page.waitForSelector('main[data-view="pool"] tr[data-location^="private:"]');
    assert.equal(await page.locator('tr[data-location^="local:"]').count(), 0);

    const { stdout } = await run(
      process.execPath,
      [CLI, 'submit', '--cpu', '1', '--memory', '256Mi', '--count', '8', '--team', 'vision', '--', 'sleep', '4'],
      { env: { ...process.env, SPILLWAY_HOME: cluster.home }, cwd: cluster.dir },
    );
    assert.equal(stdout.trim().split('\n').length, 8, stdout);
    const startedMs = Date.now();
    // The view polls; the page is never reloaded. Cloud agents appear with their spend per hour...
    const cloudRow = page.locator('tr[data-location^="local:"]');
    await cloudRow.waitFor({ timeout: 30_000 });
    // One reading of the row (agents and spend from the same render), once both cloud agents are there.
    const { agents: most, spend } = await waitFor(
      'cloud agents in the Pool view',
      async () => {
        const row = await cloudRow.evaluate((tr) => ({
          agents: Number(tr.querySelector('[data-field="agents"]')?.textContent),
          spend: tr.querySelector('[data-field="pricePerHourUsd"]')?.textContent ?? '',
        }));
        return row.agents >= 2 ? row : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.equal(Number(spend.replace(/[^0-9.]/g, '')), Math.round(most * 0.0832 * 1e6) / 1e6);
    const grewMs = Date.now() - startedMs;
    // ... and leave again once the work is done and they sat idle (3 s here).
    await cloudRow.waitFor({ state: 'detached', timeout: 60_000 });
    const shrankMs = Date.now() - startedMs;
    assert.equal(await page.locator('tr[data-location^="private:"] [data-field="agents"]').textContent(), '2');
    console.log(`      grew to ${most} cloud agents after ${grewMs} ms, back to private only after ${shrankMs} ms`);
  });
});
