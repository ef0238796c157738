/**
 * Findings of a hostile review of the web console and the routes it reads, each a check that failed before its fix:
 * a team-scoped caller's day of spend by the minute must not stall the server, the chargeback CSV must not hand a
 * spreadsheet a formula or a cell split by a locale's separator, and a console session must not mint the sign-in
 * links that would outlive it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { BudgetForecastView, SpendHistory } from '../../src/api/types.ts';
import { CONSOLE_CSP } from '../../src/console/pages.ts';
import type { Owner } from '../../src/core/owner.ts';
import { rawRequest, startApiHarness, type ApiHarness } from '../helpers/api-harness.ts';
import { selfSignedCertificate } from '../helpers/self-signed.ts';
import { makeToken, signInLink } from './helpers/fixture.ts';

const HOUR = 3_600_000;

describe('web console review findings', function () {
  this.timeout(120_000);
  let h: ApiHarness;
  beforeEach(async () => {
    h = await startApiHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  /** Opens a sign-in link over raw HTTP; the session cookie (`name=value`) and the session's CSRF token. */
  async function session(token: string): Promise<{ cookie: string; csrf: string }> {
    const link = new URL(await signInLink(h.server.url, token));
    const res = await rawRequest(h.server.url, { method: 'GET', path: `${link.pathname}${link.search}` });
    assert.equal(res.status, 303);
    const cookie = (res.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    const me = await rawRequest(h.server.url, { method: 'GET', path: '/console/session', headers: { cookie } });
    assert.equal(me.status, 200);
    return { cookie, csrf: (me.json as { csrfToken: string }).csrfToken };
  }

  it('refuses a sign-in link made by a console session, which would let the session outlive its expiry', async () => {
    const { cookie, csrf } = await session(h.tokens.admin);
    const codes = h.server.url + '/v1/console/codes';
    const bySession = await rawRequest(h.server.url, {
      method: 'POST',
      path: '/v1/console/codes',
      headers: { cookie, origin: h.server.url, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(bySession.status, 403);
    assert.match((bySession.json as { error: { message: string } }).error.message, /console session cannot/);
    // The same session may still change state (its CSRF token and Origin are right), and a bearer token still makes codes.
    const pause = await rawRequest(h.server.url, {
      method: 'POST',
      path: '/v1/pause',
      headers: { cookie, origin: h.server.url, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(pause.status, 200);
    const byBearer = await fetch(codes, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.tokens.admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(byBearer.status, 201);
  });

  /**
   * `agents` cloud agents ($0.10 an hour, launched for team vision) in the pool for 24 hours from `startMs` (default:
   * the last 24 hours), each running `runs` back-to-back tasks of half its capacity, alternately of team ml and vision.
   */
  function bigLedger(agents: number, runs: number, startMs = h.clock.now() - 24 * HOUR): void {
    const length = Math.floor((24 * HOUR) / runs);
    h.store.transaction(() => {
      for (let a = 0; a < agents; a += 1) {
        const agentId = `agent-${a}`;
        h.store.ledger.openAgentInterval({
          agentId,
          name: agentId,
          location: { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' },
          provider: 'aws-ec2',
          providerId: 'aws-ec2:us-east-1',
          instanceId: `i-${a}`,
          instanceType: 'm5.large',
          lifecycle: 'on-demand',
          pricePerHourMicros: 100_000,
          capacity: { cpuMillis: 2000, memoryMiB: 8192, gpus: 0, netMbps: 0 },
          intentId: null,
          owners: [{ owner: { team: 'vision', project: 'v', job: 'j' }, share: 1 }],
          startMs,
        });
        for (let r = 0; r < runs; r += 1) {
          const owner: Owner = { team: r % 2 === 0 ? 'ml' : 'vision', project: 'p', job: 'j' };
          const taskId = `task-${a}-${r}`;
          h.store.ledger.openUsageInterval({ taskId, agentId, owner, share: 0.5, startMs: startMs + r * length });
          h.store.ledger.closeUsageInterval(taskId, startMs + (r + 1) * length);
        }
      }
    });
  }

  it("answers other requests while it works out a team-scoped caller's day of spend by the minute", async () => {
    const AGENTS = 100;
    bigLedger(AGENTS, 200);
    const scoped = makeToken(h, 'finance', 'vision finance', { teams: ['vision'] });
    let historyDone = false;
    const history = fetch(`${h.server.url}/v1/history/spend?resolution=minute`, {
      headers: { authorization: `Bearer ${scoped}` },
    }).then(async (res) => {
      historyDone = true;
      return { status: res.status, body: (await res.json()) as SpendHistory };
    });
    // Health checks one after another while the history is worked out: the server must answer them meanwhile.
    let answeredMeanwhile = 0;
    while (!historyDone) {
      const res = await fetch(`${h.server.url}/healthz`);
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      if (!historyDone) answeredMeanwhile += 1;
    }
    const { status, body } = await history;
    assert.equal(status, 200);
    assert.ok(answeredMeanwhile >= 3, `only ${answeredMeanwhile} health checks were answered during the history`);
    // And the figures stay right: half of each agent's time is its task's (vision's every other task), the other half
    // idle, which goes to vision that launched it: vision's share is three quarters of the bill.
    assert.equal(body.points.length, 24 * 60);
    const spent = body.points.reduce((sum, p) => sum + (p.cloudSpendUsd['aws-ec2:us-east-1'] ?? 0), 0);
    const billedMs = h.clock.now() - Math.max(body.fromMs, h.clock.now() - 24 * HOUR);
    const expected = 0.75 * AGENTS * 0.1 * (billedMs / HOUR);
    assert.ok(Math.abs(spent - expected) < expected * 0.005, `vision's spend ${spent}, expected about ${expected}`);
  });

  it('downloads a chargeback CSV whose every cell is quoted and none starts a formula', async () => {
    // The page's own module (no imports), as the browser runs it.
    const { csvOf } = (await import(new URL('../../src/console/web/csv.js', import.meta.url).href)) as {
      csvOf: (report: unknown, columns: readonly (readonly [string, string])[]) => string;
    };
    const report = {
      rows: [
        { team: '=HYPERLINK("http://evil.example","x")', project: 'a;=1+1', job: '-2+3', totalUsd: 1.5 },
        { team: '@SUM(A1)', project: '\n=1+1', job: '\t=1', totalUsd: 0 },
        { team: 'vision', project: 'plain, with a comma', job: null, totalUsd: 2 },
      ],
    };
    assert.equal(
      csvOf(report, [['totalUsd', 'Total']]),
      [
        '"team","project","job","totalUsd"',
        `"'=HYPERLINK(""http://evil.example"",""x"")","a;=1+1","'-2+3","1.5"`,
        `"'@SUM(A1)","'\n=1+1","'\t=1","0"`,
        '"vision","plain, with a comma","","2"',
        '',
      ].join('\n'),
    );
  });

  it('reads the runs of the ledger only for a scoped caller’s spend: the pool and the whole bill need the agents alone', async () => {
    bigLedger(3, 4);
    const scoped = makeToken(h, 'finance', 'vision finance', { teams: ['vision'] });
    // The real store, watched: which reads the routes ask for, and how much they get back.
    const { ledger } = h.store;
    const real = ledger.overlapping.bind(ledger);
    const reads: { agentsOnly: boolean; agents: number; usage: number }[] = [];
    ledger.overlapping = (fromMs, toMs, options) => {
      const slice = real(fromMs, toMs, options);
      reads.push({ agentsOnly: options?.agentsOnly === true, agents: slice.agents.length, usage: slice.usage.length });
      return slice;
    };
    try {
      const get = async (path: string, token: string): Promise<void> => {
        const res = await fetch(`${h.server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200, await res.text());
      };
      await get('/v1/history/pool?resolution=minute', h.tokens.finance);
      await get('/v1/history/spend?resolution=minute', h.tokens.finance);
      await get('/v1/history/spend?resolution=minute', scoped);
    } finally {
      ledger.overlapping = real;
    }
    assert.deepEqual(reads, [
      { agentsOnly: true, agents: 3, usage: 0 },
      { agentsOnly: true, agents: 3, usage: 0 },
      { agentsOnly: false, agents: 3, usage: 12 },
    ]);
  });

  it("answers other requests while it forecasts the month's budgets over a large ledger, and forecasts right", async () => {
    const AGENTS = 100;
    bigLedger(AGENTS, 200, h.clock.now());
    h.clock.advance(24 * HOUR);
    for (const [name, scope] of [
      ['all-month', { kind: 'global' }],
      ['vision-month', { kind: 'team', team: 'vision' }],
    ] as const) {
      h.store.budgets.set(
        { name, scope, period: 'month', capMicros: 1_000_000_000, onCap: 'finish' },
        'test',
        h.clock.now(),
      );
    }
    let done = false;
    const answer = fetch(`${h.server.url}/v1/budgets/forecasts`, {
      headers: { authorization: `Bearer ${h.tokens.finance}` },
    }).then(async (res) => {
      done = true;
      return { status: res.status, body: (await res.json()) as { forecasts: BudgetForecastView[] } };
    });
    let answeredMeanwhile = 0;
    while (!done) {
      const res = await fetch(`${h.server.url}/healthz`);
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      if (!done) answeredMeanwhile += 1;
    }
    const { status, body } = await answer;
    assert.equal(status, 200);
    assert.ok(answeredMeanwhile >= 3, `only ${answeredMeanwhile} health checks were answered during the forecasts`);
    // A day of 100 agents at $0.10 an hour since the month began; vision's share is three quarters (see above).
    const all = body.forecasts.find((f) => f.name === 'all-month');
    const vision = body.forecasts.find((f) => f.name === 'vision-month');
    assert.ok(all && vision);
    assert.equal(all.spentUsd, AGENTS * 0.1 * 24);
    assert.ok(Math.abs(vision.spentUsd - 0.75 * all.spentUsd) < 0.01, `vision spent ${vision.spentUsd}`);
    // The series climbs evenly (the pool was the same all day) to the spend so far.
    assert.equal(all.series.length, 48);
    assert.equal(all.series.at(-1)?.spentUsd, all.spentUsd);
    const middle = all.series[24];
    assert.ok(middle);
    const expectedMiddle = (AGENTS * 0.1 * (middle.atMs - all.fromMs)) / HOUR;
    assert.ok(
      Math.abs(middle.spentUsd - expectedMiddle) < 0.01,
      `${middle.spentUsd} at the middle, not ${expectedMiddle}`,
    );
    // Vision's series is three quarters of the whole's, point by point, give or take a quarter of one run's worth
    // (which team's run is on at the point): 0.25 x 100 agents x $0.10 x 7.2 minutes = $0.30.
    assert.equal(vision.series.length, all.series.length);
    all.series.forEach((p, i) => {
      const seen = vision.series[i]?.spentUsd ?? NaN;
      assert.ok(Math.abs(seen - 0.75 * p.spentUsd) <= 0.31, `vision's point ${i}: ${seen}, whole ${p.spentUsd}`);
    });
    assert.equal(all.ratePerHourUsd, AGENTS * 0.1);
    // The last hour holds 8 and a third runs: the same quarter of one run either way.
    assert.ok(Math.abs(vision.ratePerHourUsd - 0.75 * AGENTS * 0.1) <= 0.31, `vision's rate ${vision.ratePerHourUsd}`);
  });

  it('ends the session a browser held when it signs in again (its cookie is replaced, so nothing would end it)', async () => {
    const first = await session(h.tokens.admin);
    const link = new URL(await signInLink(h.server.url, h.tokens.finance));
    const again = await rawRequest(h.server.url, {
      method: 'GET',
      path: `${link.pathname}${link.search}`,
      headers: { cookie: first.cookie },
    });
    assert.equal(again.status, 303);
    const second = (again.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    assert.notEqual(second, first.cookie);
    const who = (cookie: string) =>
      rawRequest(h.server.url, { method: 'GET', path: '/console/session', headers: { cookie } });
    assert.equal((await who(first.cookie)).status, 401);
    const now = await who(second);
    assert.equal(now.status, 200);
    assert.equal((now.json as { role: string }).role, 'finance');
  });

  it('opens one session for a sign-in link opened by many requests at once', async () => {
    const link = new URL(await signInLink(h.server.url, h.tokens.admin));
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        rawRequest(h.server.url, { method: 'GET', path: `${link.pathname}${link.search}` }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [303, 401, 401, 401, 401, 401, 401, 401]);
    assert.equal(answers.filter((a) => a.headers['set-cookie'] !== undefined).length, 1);
  });

  it('serves only its own files, and every console answer (errors too) with the CSP, no-store and nosniff', async () => {
    // Raw request targets: a client would tidy these before sending.
    const target = async (path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> =>
      new Promise((resolve, reject) => {
        const url = new URL(h.server.url);
        const req = http.request({ host: url.hostname, port: url.port, method: 'GET', path, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }),
          );
        });
        req.on('error', reject);
        req.end();
      });
    const hostile = [
      '/console/static/%2e%2e/session.ts',
      '/console/static/..%2f..%2fpackage.json',
      '/console/static/..%5c..%5cpackage.json',
      '/console/static/app.js%00.css',
      '/console/static/',
      '/console/vendor/',
      '/console/static/APP.JS',
      '/console/vendor/preact.mjs/',
      '/console/vendor/../../package.json',
    ];
    for (const path of hostile) {
      const res = await target(path);
      assert.equal(res.status, 404, path);
      assert.ok(!res.text.includes('"name"') && !res.text.includes('import '), `${path} answered a file`);
    }
    const answers = [
      ...(await Promise.all(hostile.slice(0, 3).map(target))),
      await target('/console/static/app.js'),
      await target('/console/vendor/preact.mjs'),
      await target('/console/vendor/uplot.css'),
      await target('/console/session'),
      await target('/console/signin?code=not-a-code-but-long-enough'),
      await target('/console/signout'),
    ];
    assert.deepEqual(
      answers.slice(3).map((a) => [a.status, a.headers['content-type']]),
      [
        [200, 'text/javascript; charset=utf-8'],
        [200, 'text/javascript; charset=utf-8'],
        [200, 'text/css; charset=utf-8'],
        [401, 'application/json; charset=utf-8'],
        [401, 'text/html; charset=utf-8'],
        [405, 'text/plain; charset=utf-8'],
      ],
    );
    for (const a of answers) {
      assert.equal(a.headers['content-security-policy'], CONSOLE_CSP);
      assert.equal(a.headers['cache-control'], 'no-store');
      assert.equal(a.headers['x-content-type-options'], 'nosniff');
    }
  });

  it('asks before using a sign-in link opened from another site, and leaves a link a HEAD request checks unused', async () => {
    const open = (path: string, headers: Record<string, string>, method = 'GET') =>
      rawRequest(h.server.url, { method, path, headers });
    const pathOf = async (): Promise<string> => {
      const link = new URL(await signInLink(h.server.url, h.tokens.submitter));
      return `${link.pathname}${link.search}`;
    };
    // From another site (a page elsewhere linking to a code its owner made): a page to continue from, no session.
    const linked = await pathOf();
    const code = new URL(linked, h.server.url).searchParams.get('code') ?? '';
    for (const site of ['cross-site', 'same-site']) {
      const res = await open(linked, { 'sec-fetch-site': site });
      assert.equal(res.status, 200);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.ok(res.text.includes(`<input type="hidden" name="code" value="${code}">`), res.text);
      assert.ok(res.text.includes('<form method="post" action="/console/signin">'));
    }
    // Continuing posts the code from this server's page: now it signs in, once.
    const post = (origin: string) =>
      rawRequest(h.server.url, {
        method: 'POST',
        path: '/console/signin',
        headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ code }).toString(),
      });
    assert.equal((await post('http://elsewhere.example')).status, 403);
    const continued = await post(h.server.url);
    assert.equal(continued.status, 303);
    assert.match(continued.headers['set-cookie']?.[0] ?? '', /^spillway_session=/);
    assert.equal((await post(h.server.url)).status, 401);
    // A HEAD (a link checker) answers without using the code; the user's own GET then signs in.
    const checked = await pathOf();
    const head = await open(checked, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['set-cookie'], undefined);
    const typed = await open(checked, { 'sec-fetch-site': 'none' });
    assert.equal(typed.status, 303);
    assert.match(typed.headers['set-cookie']?.[0] ?? '', /^spillway_session=/);
  });

  it('names the session cookie __Host- over HTTPS and reads no cookie without the prefix (none planted by a sibling)', async () => {
    const tls = selfSignedCertificate();
    const secure = await startApiHarness({ tls });
    const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
        const req = https.request(new URL(path, secure.server.url), { method, ca: tls.cert, headers }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const made = await call(
        'POST',
        '/v1/console/codes',
        { authorization: `Bearer ${secure.tokens.admin}`, 'content-type': 'application/json' },
        '{}',
      );
      const opened = await call('GET', (JSON.parse(made.text) as { path: string }).path, {});
      assert.equal(opened.status, 303);
      const setCookie = opened.headers['set-cookie']?.[0] ?? '';
      assert.match(
        setCookie,
        /^__Host-spillway_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure$/,
      );
      const secret = /=([^;]+)/.exec(setCookie)?.[1] ?? '';
      assert.equal(
        (await call('GET', '/console/session', { cookie: `__Host-spillway_session=${secret}` })).status,
        200,
      );
      // The same secret under the unprefixed name, as a sibling subdomain could set it: not a session here.
      assert.equal((await call('GET', '/console/session', { cookie: `spillway_session=${secret}` })).status, 401);
      assert.equal((await call('GET', '/v1/status', { cookie: `spillway_session=${secret}` })).status, 401);
    } finally {
      await secure.close();
    }
  });
});
