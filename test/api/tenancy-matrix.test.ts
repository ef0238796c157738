/**
 * The route x role x team-scope matrix (issue 13): every route the server really serves (read from its own OpenAPI
 * document, so a route added without a row here fails) is called by every kind of caller, on an object of the scoped
 * team and on one of another team. The expected answer of each cell comes from the table below, written from the
 * README's roles, not from the routes' declarations.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { hashToken, newApiToken } from '../../src/core/credentials.ts';
import { newId } from '../../src/core/ids.ts';
import { resources } from '../../src/core/resources.ts';
import type { TeamScope } from '../../src/core/team-scope.ts';
import type { Role } from '../../src/store/store.ts';
import { rawRequest, startApiHarness, type ApiHarness, type RawResponse } from '../helpers/api-harness.ts';

const CALLERS = [
  'anonymous',
  'revoked',
  'admin',
  'submitter',
  'submitter-vision',
  'finance',
  'finance-vision',
  'registration',
  'agent-own',
  'agent-other',
] as const;
type CallerName = (typeof CALLERS)[number];
/** The scoped team, and another one. */
type Target = 'vision' | 'ml';

const SCOPED: ReadonlySet<CallerName> = new Set(['submitter-vision', 'finance-vision']);
const ANYONE = CALLERS;
const READERS: readonly CallerName[] = ['admin', 'submitter', 'submitter-vision', 'finance', 'finance-vision'];
const SUBMITTERS: readonly CallerName[] = ['admin', 'submitter', 'submitter-vision'];
const FINANCE: readonly CallerName[] = ['admin', 'finance', 'finance-vision'];
const ADMIN: readonly CallerName[] = ['admin'];

interface Call {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

interface Cell {
  readonly caller: CallerName;
  readonly target: Target;
  /** The agent whose token `agent-own` is. */
  readonly agentId: string;
}

interface Row {
  /** Who gets the route's answer; everyone else gets 403 (401 without a usable token). */
  readonly allowed: readonly CallerName[];
  readonly ok: number;
  /** What a scoped caller gets for another team's object: 404 (reads, so nothing leaks) or 403 (a write naming it). */
  readonly foreign?: 403 | 404;
  /** Whether a successful call must leave an audit row naming the caller's token. */
  readonly audited?: boolean;
  call(cell: Cell): Call;
  /** Checks a successful answer's content for this caller and target. */
  check?(cell: Cell, res: RawResponse): void;
}

describe('api route x role x team-scope matrix', () => {
  let h: ApiHarness;
  let mungeDir: string;
  const secrets = new Map<CallerName, string>();
  const tokenIds = new Map<CallerName, string>();
  let visionTaskId: string;
  let mlTaskId: string;
  let counter = 0;

  function token(
    role: Role,
    name: string,
    scope?: TeamScope,
    agentId: string | null = null,
  ): { id: string; secret: string } {
    const secret = newApiToken();
    const id = newId('tok');
    h.store.tokens.create(
      { id, role, name, agentId, createdAtMs: h.clock.now(), ...(scope && { scope }) },
      hashToken(secret),
    );
    h.secrets.push(secret);
    return { id, secret };
  }

  function task(team: Target): string {
    const [inserted] = h.store.tasks.insert(
      [
        {
          owner: { team, project: `${team}-p`, job: 'j' },
          resources: resources({ cpuMillis: 500, memoryMiB: 256 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: ['true'],
        },
      ],
      h.clock.now(),
    );
    return inserted?.id ?? '';
  }

  /** A registered cloud agent (so the munge-key route answers) with a token bound to it. */
  function agent(): { id: string; secret: string } {
    const instanceId = `i-${(counter += 1)}`;
    h.launch([instanceId]);
    const provisioning = h.store.agents.byInstance('local:test', instanceId);
    assert.ok(provisioning);
    h.store.agents.register(
      provisioning.id,
      { capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }), labels: {} },
      h.clock.now(),
    );
    return { id: provisioning.id, secret: token('agent', `agent-${counter}`, undefined, provisioning.id).secret };
  }

  function budget(team: Target | 'global'): string {
    const name = `b-${team}-${(counter += 1)}`;
    h.store.budgets.set(
      {
        name,
        scope: team === 'global' ? { kind: 'global' } : { kind: 'team', team },
        period: 'day',
        capMicros: 10_000_000,
        onCap: 'finish',
      },
      'test',
      h.clock.now(),
    );
    return name;
  }

  function runningTask(agentId: string): string {
    const id = task('vision');
    h.store.tasks.place(id, agentId, h.clock.now());
    h.store.tasks.claim(agentId, h.clock.now());
    return id;
  }

  const teamsOf = (items: readonly { owner: { team: string } }[]): Set<string> =>
    new Set(items.map((t) => t.owner.team));
  const json = (res: RawResponse): Record<string, unknown> => res.json as Record<string, unknown>;

  const ROWS: Record<string, Row> = {
    'GET /healthz': { allowed: ANYONE, ok: 200, call: () => ({ method: 'GET', path: '/healthz' }) },
    'GET /metrics': { allowed: ANYONE, ok: 200, call: () => ({ method: 'GET', path: '/metrics' }) },
    'GET /v1/openapi.json': { allowed: ANYONE, ok: 200, call: () => ({ method: 'GET', path: '/v1/openapi.json' }) },
    'POST /v1/tasks': {
      allowed: SUBMITTERS,
      ok: 201,
      foreign: 403,
      audited: true,
      call: ({ target }) => ({
        method: 'POST',
        path: '/v1/tasks',
        body: { tasks: [{ command: ['true'], resources: { cpu: 1, memory: 64 }, owner: { team: target } }] },
      }),
      check: ({ target }, res) => assert.deepEqual(teamsOf((json(res).tasks as never[]) ?? []), new Set([target])),
    },
    'GET /v1/tasks': {
      allowed: READERS,
      ok: 200,
      call: ({ target }) => ({ method: 'GET', path: `/v1/tasks?team=${target}` }),
      check: ({ caller, target }, res) => {
        const teams = teamsOf(json(res).tasks as never[]);
        // A scoped caller asking for another team gets an empty page, not that team's tasks.
        assert.deepEqual(teams, SCOPED.has(caller) && target === 'ml' ? new Set() : new Set([target]));
      },
    },
    'GET /v1/tasks/{id}': {
      allowed: READERS,
      ok: 200,
      foreign: 404,
      call: ({ target }) => ({ method: 'GET', path: `/v1/tasks/${target === 'vision' ? visionTaskId : mlTaskId}` }),
      check: ({ target }, res) => assert.equal((json(res).owner as { team: string }).team, target),
    },
    'POST /v1/tasks/{id}/cancel': {
      allowed: SUBMITTERS,
      ok: 200,
      foreign: 404,
      audited: true,
      call: ({ target }) => ({ method: 'POST', path: `/v1/tasks/${task(target)}/cancel`, body: {} }),
      check: (_cell, res) => assert.equal(json(res).state, 'cancelled'),
    },
    'GET /v1/agents': { allowed: READERS, ok: 200, call: () => ({ method: 'GET', path: '/v1/agents' }) },
    'GET /v1/status': { allowed: READERS, ok: 200, call: () => ({ method: 'GET', path: '/v1/status' }) },
    'GET /v1/policy': { allowed: READERS, ok: 200, call: () => ({ method: 'GET', path: '/v1/policy' }) },
    'PUT /v1/policy': {
      allowed: ADMIN,
      ok: 200,
      audited: true,
      call: () => ({ method: 'PUT', path: '/v1/policy', body: h.store.policy.get() }),
    },
    'POST /v1/pause': {
      allowed: ADMIN,
      ok: 200,
      audited: true,
      call: () => ({ method: 'POST', path: '/v1/pause', body: {} }),
    },
    'POST /v1/resume': {
      allowed: ADMIN,
      ok: 200,
      audited: true,
      call: () => ({ method: 'POST', path: '/v1/resume', body: {} }),
    },
    'POST /v1/providers/{name}/retry': {
      allowed: ADMIN,
      ok: 200,
      audited: true,
      call: () => ({ method: 'POST', path: '/v1/providers/test/retry', body: {} }),
    },
    'GET /v1/audit': { allowed: ADMIN, ok: 200, call: () => ({ method: 'GET', path: '/v1/audit' }) },
    'GET /v1/budgets': {
      allowed: FINANCE,
      ok: 200,
      call: () => ({ method: 'GET', path: '/v1/budgets' }),
      check: ({ caller }, res) => {
        const scopes = (json(res).budgets as { scope: { kind: string; team?: string } }[]).map((b) =>
          b.scope.kind === 'team' ? b.scope.team : b.scope.kind,
        );
        assert.deepEqual(
          new Set(scopes),
          SCOPED.has(caller) ? new Set(['vision']) : new Set(['vision', 'ml', 'global']),
        );
      },
    },
    'GET /v1/budgets/alerts': {
      allowed: FINANCE,
      ok: 200,
      call: () => ({ method: 'GET', path: '/v1/budgets/alerts' }),
      check: ({ caller }, res) => {
        const names = new Set((json(res).alerts as { budgetName: string }[]).map((a) => a.budgetName.split('-')[1]));
        assert.deepEqual(names, SCOPED.has(caller) ? new Set(['vision']) : new Set(['vision', 'ml', 'global']));
      },
    },
    'GET /v1/budgets/{id}': {
      allowed: FINANCE,
      ok: 200,
      foreign: 404,
      call: ({ target }) => ({ method: 'GET', path: `/v1/budgets/${budget(target)}` }),
    },
    'PUT /v1/budgets/{id}': {
      allowed: FINANCE,
      ok: 201,
      foreign: 403,
      audited: true,
      call: ({ target }) => ({
        method: 'PUT',
        path: `/v1/budgets/new-${(counter += 1)}`,
        body: { scope: { kind: 'team', team: target }, period: 'day', capUsd: 5 },
      }),
    },
    'DELETE /v1/budgets/{id}': {
      allowed: FINANCE,
      ok: 200,
      foreign: 404,
      audited: true,
      call: ({ target }) => ({ method: 'DELETE', path: `/v1/budgets/${budget(target)}` }),
    },
    'GET /v1/reports/chargeback': {
      allowed: FINANCE,
      ok: 200,
      call: () => ({ method: 'GET', path: '/v1/reports/chargeback?by=team' }),
      check: ({ caller }, res) => {
        const rows = json(res).rows as { team: string; totalUsd: number }[];
        const totals = json(res).totals as { totalUsd: number };
        const teams = new Set(rows.map((r) => r.team));
        // Unscoped callers also see idle cloud time no task owned (`(unattributed)`).
        if (SCOPED.has(caller)) assert.deepEqual(teams, new Set(['vision']));
        else assert.ok(teams.has('vision') && teams.has('ml'), [...teams].join(','));
        const sum = rows.reduce((total, r) => total + Math.round(r.totalUsd * 1e6), 0);
        assert.equal(Math.round(totals.totalUsd * 1e6), sum);
      },
    },
    'GET /v1/budgets/forecasts': {
      allowed: FINANCE,
      ok: 200,
      call: () => ({ method: 'GET', path: '/v1/budgets/forecasts' }),
      check: ({ caller }, res) => {
        const scopes = (json(res).forecasts as { scope: { kind: string; team?: string } }[]).map((b) =>
          b.scope.kind === 'team' ? b.scope.team : b.scope.kind,
        );
        assert.deepEqual(
          new Set(scopes),
          SCOPED.has(caller) ? new Set(['vision']) : new Set(['vision', 'ml', 'global']),
        );
      },
    },
    'POST /v1/console/codes': {
      allowed: READERS,
      ok: 201,
      call: () => ({ method: 'POST', path: '/v1/console/codes', body: {} }),
      check: (_cell, res) => assert.match(String(json(res).path), /^\/console\/signin\?code=[A-Za-z0-9_-]{43}$/),
    },
    'GET /v1/decisions': {
      allowed: READERS,
      ok: 200,
      call: () => ({ method: 'GET', path: '/v1/decisions' }),
      check: ({ caller }, res) => {
        const decisions = json(res).decisions as { kind: string; owners?: { team: string }[] }[];
        // The harness's launches name no owner: a scoped caller sees none of them, an unscoped one all.
        if (SCOPED.has(caller)) assert.ok(decisions.every((d) => d.owners?.every((o) => o.team === 'vision')));
        else assert.ok(decisions.length > 0);
      },
    },
    'GET /v1/history/pool': {
      allowed: READERS,
      ok: 200,
      call: () => ({ method: 'GET', path: '/v1/history/pool' }),
      check: (_cell, res) => assert.equal((json(res).points as unknown[]).length, 1440),
    },
    'GET /v1/history/spend': {
      allowed: READERS,
      ok: 200,
      call: () => ({ method: 'GET', path: '/v1/history/spend' }),
      check: (_cell, res) => assert.equal((json(res).points as unknown[]).length, 30 * 24),
    },
    'GET /v1/tasks/{id}/runs': {
      allowed: READERS,
      ok: 200,
      foreign: 404,
      call: ({ target }) => ({
        method: 'GET',
        path: `/v1/tasks/${target === 'vision' ? visionTaskId : mlTaskId}/runs`,
      }),
      check: (_cell, res) => assert.ok(Array.isArray(json(res).runs)),
    },
    'POST /v1/tokens': {
      allowed: ADMIN,
      ok: 201,
      audited: true,
      call: () => ({ method: 'POST', path: '/v1/tokens', body: { role: 'submitter', name: 'new', teams: ['vision'] } }),
    },
    'GET /v1/tokens': { allowed: ADMIN, ok: 200, call: () => ({ method: 'GET', path: '/v1/tokens' }) },
    'DELETE /v1/tokens/{id}': {
      allowed: ADMIN,
      ok: 200,
      audited: true,
      call: () => ({ method: 'DELETE', path: `/v1/tokens/${token('submitter', 'doomed').id}` }),
    },
    'POST /v1/agents/register': {
      allowed: ['registration'],
      ok: 201,
      call: () => ({
        method: 'POST',
        path: '/v1/agents/register',
        body: {
          protocolVersion: 1,
          name: `node-${(counter += 1)}`,
          capacity: { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 },
          labels: {},
        },
      }),
    },
    'POST /v1/agents/{id}/heartbeat': {
      allowed: ['agent-own'],
      ok: 200,
      call: ({ agentId }) => ({
        method: 'POST',
        path: `/v1/agents/${agentId}/heartbeat`,
        body: { runningTaskIds: [] },
      }),
    },
    'POST /v1/agents/{id}/pull': {
      allowed: ['agent-own'],
      ok: 200,
      call: ({ agentId }) => ({ method: 'POST', path: `/v1/agents/${agentId}/pull`, body: {} }),
    },
    'POST /v1/agents/{id}/tasks/{taskId}/report': {
      allowed: ['agent-own'],
      ok: 200,
      call: ({ agentId }) => ({
        method: 'POST',
        path: `/v1/agents/${agentId}/tasks/${runningTask(agentId)}/report`,
        body: { kind: 'output', outputTail: 'hi' },
      }),
    },
    'POST /v1/agents/{id}/leave': {
      allowed: ['agent-own'],
      ok: 200,
      call: ({ agentId }) => ({ method: 'POST', path: `/v1/agents/${agentId}/leave`, body: { reason: 'test' } }),
    },
    'GET /v1/agents/{id}/slurm/munge-key': {
      allowed: ['agent-own'],
      ok: 200,
      call: ({ agentId }) => ({ method: 'GET', path: `/v1/agents/${agentId}/slurm/munge-key` }),
    },
  };

  before(async () => {
    mungeDir = mkdtempSync(join(tmpdir(), 'spillway-munge-'));
    const mungeKeyFile = join(mungeDir, 'munge.key');
    writeFileSync(mungeKeyFile, 'k'.repeat(32));
    h = await startApiHarness({ slurmMungeKeyFile: mungeKeyFile });
    const made: Record<Exclude<CallerName, 'anonymous' | 'agent-own'>, { id: string; secret: string }> = {
      revoked: token('admin', 'gone'),
      admin: token('admin', 'alice'),
      submitter: token('submitter', 'bob'),
      'submitter-vision': token('submitter', 'vision-ci', { teams: ['vision'] }),
      finance: token('finance', 'carol'),
      'finance-vision': token('finance', 'vision-finance', { teams: ['vision'] }),
      registration: token('agent', 'private-agents'),
      'agent-other': agent(),
    };
    h.store.tokens.revoke(made.revoked.id, h.clock.now());
    for (const [name, { id, secret }] of Object.entries(made)) {
      secrets.set(name as CallerName, secret);
      tokenIds.set(name as CallerName, id);
    }
    visionTaskId = task('vision');
    mlTaskId = task('ml');
    // Cost for chargeback: one task of each team runs an hour on a cloud agent.
    const worker = agent();
    for (const team of ['vision', 'ml'] as const) h.store.tasks.place(task(team), worker.id, h.clock.now());
    h.store.tasks.claim(worker.id, h.clock.now());
    // Budgets of each kind, each with an alert.
    for (const kind of ['vision', 'ml', 'global'] as const) {
      const name = budget(kind);
      const stored = h.store.budgets.get(name);
      assert.ok(stored);
      h.store.budgets.recordAlert({
        budgetId: stored.id,
        budgetName: stored.name,
        scope: stored.scope,
        period: stored.period,
        periodStartMs: 0,
        percent: 50,
        spentMicros: 5_000_000,
        capMicros: stored.capMicros,
        atMs: h.clock.now(),
      });
    }
    h.clock.advance(3_600_000);
  });
  after(async () => {
    await h.close();
    rmSync(mungeDir, { recursive: true, force: true });
  });

  it('has a row for every route the server serves, and no row for a route it does not', async () => {
    const res = await rawRequest(h.server.url, { method: 'GET', path: '/v1/openapi.json' });
    const paths = (res.json as { paths: Record<string, Record<string, unknown>> }).paths;
    const served = Object.entries(paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    assert.ok(served.length >= 29, `the OpenAPI document lists ${served.length} routes`);
    assert.deepEqual([...served].sort(), Object.keys(ROWS).sort());
  });

  function expected(row: Row, caller: CallerName, target: Target): number {
    const isPublic = row.allowed === ANYONE;
    if (isPublic) return row.ok;
    if (caller === 'anonymous' || caller === 'revoked') return 401;
    if (!row.allowed.includes(caller)) return 403;
    if (row.foreign !== undefined && target === 'ml' && SCOPED.has(caller)) return row.foreign;
    return row.ok;
  }

  /** A web console session of a human caller's token, opened through a one-time link: its cookie and CSRF token. */
  async function consoleSession(secret: string): Promise<{ cookie: string; csrf: string }> {
    const made = await rawRequest(h.server.url, {
      method: 'POST',
      path: '/v1/console/codes',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const opened = await rawRequest(h.server.url, { method: 'GET', path: String(json(made).path) });
    const cookie = (opened.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    const me = await rawRequest(h.server.url, { method: 'GET', path: '/console/session', headers: { cookie } });
    assert.equal(me.status, 200, `opening a console session: ${me.text}`);
    return { cookie, csrf: String(json(me).csrfToken) };
  }

  // Each route twice: human callers with their bearer tokens, then through console sessions of the same tokens (which
  // send the cookie, this server's Origin and the CSRF token, as the console's pages do). Agent, revoked and anonymous
  // callers cannot open a session, so they call as they are both times. A session may not make sign-in links.
  for (const [route, row] of Object.entries(ROWS))
    for (const via of ['bearer', 'console session'] as const) {
      it(`answers ${route} for every caller and team as the table says (${via})`, async () => {
        const failures: string[] = [];
        const sessions = new Map<CallerName, { cookie: string; csrf: string }>();
        if (via === 'console session') {
          for (const caller of READERS) sessions.set(caller, await consoleSession(secrets.get(caller) ?? ''));
        }
        for (const caller of CALLERS) {
          for (const target of ['vision', 'ml'] as const) {
            let agentId = 'agt-none';
            let secret = secrets.get(caller);
            if (caller === 'agent-own' || row.allowed.includes('agent-own')) {
              const own = agent();
              agentId = own.id;
              if (caller === 'agent-own') secret = own.secret;
            }
            const cell: Cell = { caller, target, agentId };
            const call = row.call(cell);
            const auditBefore = h.store.audit.list(1)[0]?.id ?? 0;
            const session = sessions.get(caller);
            const credentials: Record<string, string> =
              session !== undefined
                ? { cookie: session.cookie, origin: h.server.url, 'x-csrf-token': session.csrf }
                : secret === undefined
                  ? {}
                  : { authorization: `Bearer ${secret}` };
            const res = await rawRequest(h.server.url, {
              method: call.method,
              path: call.path,
              headers: {
                ...credentials,
                ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
              },
              ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
            });
            const want =
              session !== undefined && route === 'POST /v1/console/codes' ? 403 : expected(row, caller, target);
            if (res.status !== want) {
              failures.push(`${caller} on ${target}: got ${res.status} (${res.text.slice(0, 200)}), want ${want}`);
              continue;
            }
            if (want === row.ok) {
              try {
                row.check?.(cell, res);
              } catch (err) {
                failures.push(`${caller} on ${target}: ${(err as Error).message}`);
              }
            }
            const newest = h.store.audit.list(1)[0];
            const wrote = newest !== undefined && newest.id > auditBefore;
            if (row.audited && want === row.ok) {
              const id = tokenIds.get(caller) ?? '';
              if (!wrote || !newest.actor.includes(id)) {
                failures.push(`${caller} on ${target}: no audit row naming token ${id} (newest: ${newest?.actor})`);
              }
            }
            if (want >= 400 && wrote && row.audited)
              failures.push(`${caller} on ${target}: a refused call was audited`);
          }
        }
        assert.deepEqual(failures, []);
      });
    }
});
