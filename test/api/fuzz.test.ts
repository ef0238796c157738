/**
 * A property-based HTTP fuzzer over every route, role and team scope (issue 13): requests built from the server's own
 * OpenAPI document, with known and garbage ids, queries and bodies (valid ones mutated, random JSON, non-JSON), sent
 * by every kind of caller to a real `spillway serve` (a child process on a SQLite file) whose loop is stopped. Every answer
 * must be below 500, the server must stay up, and the domain tables (tasks, agents, tokens, budgets, policy, intents)
 * may change only when the answer is 2xx (audit rows and rate-limit state may grow).
 *
 * CI sends SPILLWAY_FUZZ_REQUESTS (default 2,000) requests; `npm run fuzz` sends 20,000. The seed is printed; set
 * SPILLWAY_FUZZ_SEED to replay a run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { stringify } from 'yaml';
import fc from 'fast-check';
import { after, before, describe, it } from 'mocha';
import { hashToken, newApiToken } from '../../src/core/credentials.ts';
import { newId } from '../../src/core/ids.ts';
import { resources } from '../../src/core/resources.ts';
import type { TeamScope } from '../../src/core/team-scope.ts';
import type { Role } from '../../src/store/store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { rawRequest, type RawResponse } from '../helpers/api-harness.ts';
import { CLI_ENTRY, cleanEnv } from '../cli/helpers/cli-process.ts';

const REQUESTS = Number(process.env.SPILLWAY_FUZZ_REQUESTS ?? 2_000);
const SEED = Number(process.env.SPILLWAY_FUZZ_SEED ?? Date.now() % 2_147_483_647);
const DOMAIN_TABLES = ['tasks', 'agents', 'tokens', 'budgets', 'policy', 'intents'] as const;

interface Fuzzed {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

describe('api fuzzing', function () {
  this.timeout(Math.max(120_000, REQUESTS * 60));
  let dir: string;
  let store: Store;
  let serve: ChildProcess;
  let serveLog = '';
  let url: string;
  let reader: DatabaseSync;
  const callers: Record<string, string | undefined> = {};
  const ids: Record<string, string[]> = {};
  let routes: { method: string; path: string }[] = [];
  const now = Date.now();

  function token(
    role: Role,
    name: string,
    scope?: TeamScope,
    agentId: string | null = null,
  ): { id: string; secret: string } {
    const secret = newApiToken();
    const id = newId('tok');
    store.tokens.create({ id, role, name, agentId, createdAtMs: now, ...(scope && { scope }) }, hashToken(secret));
    return { id, secret };
  }

  function dump(): string {
    return JSON.stringify(
      DOMAIN_TABLES.map((table) =>
        reader
          .prepare(`SELECT * FROM ${table}`)
          .all()
          .map((row) => JSON.stringify(row))
          .sort(),
      ),
    );
  }

  /**
   * A real `spillway serve` with its loop stopped: another holder has the store's lease for a year, so this serve is a
   * standby that answers the API and never runs a pass (nothing but requests writes to the store).
   */
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-fuzz-'));
    const dbPath = join(dir, 'spillway.db');
    store = openSqliteStore(dbPath);
    store.meta.bindClusterId('fuzz');
    assert.ok(store.lease.acquire('controller', 'fuzz-holder', now, 365 * 86_400_000));
    callers.anonymous = undefined;
    callers.garbage = 'not-a-token';
    for (const role of ['admin', 'submitter', 'finance'] as const) callers[role] = token(role, role).secret;
    callers.registration = token('agent', 'registration').secret;
    const revoked = token('admin', 'revoked');
    store.tokens.revoke(revoked.id, now);
    callers.revoked = revoked.secret;
    callers['submitter-vision'] = token('submitter', 'sv', { teams: ['vision'] }).secret;
    callers['finance-vision'] = token('finance', 'fv', { teams: ['vision'], projects: ['p'] }).secret;
    const agents: string[] = [];
    for (let i = 0; i < 3; i++) {
      const agent = store.agents.insert(
        {
          name: `p${i}`,
          location: { kind: 'private', site: 'lab' },
          capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
          labels: {},
          lifecycle: 'private',
          pricePerHourMicros: 0,
          state: 'registered',
          instanceId: null,
          providerId: null,
          intentId: null,
        },
        now,
      );
      agents.push(agent.id);
      callers[`agent-${i}`] = token('agent', `a${i}`, undefined, agent.id).secret;
    }
    const tasks = store.tasks.insert(
      ['vision', 'ml', 'vision', 'ml'].map((team) => ({
        owner: { team, project: 'p', job: 'j' },
        resources: resources({ cpuMillis: 500, memoryMiB: 256 }),
        priority: 0,
        revocable: false,
        constraints: {},
        command: ['true'],
      })),
      now,
    );
    store.tasks.place(tasks[2]?.id ?? '', agents[0] ?? '', now);
    store.tasks.claim(agents[0] ?? '', now);
    for (const team of ['vision', 'ml']) {
      store.budgets.set(
        { name: `b-${team}`, scope: { kind: 'team', team }, period: 'day', capMicros: 1_000_000, onCap: 'finish' },
        'test',
        now,
      );
    }
    ids.id = [...tasks.map((t) => t.id), ...agents, 'b-vision', 'b-ml', ...store.tokens.list().map((t) => t.id)];
    ids.taskId = tasks.map((t) => t.id);
    store.close();

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const configPath = join(dir, 'spillway.yaml');
    writeFileSync(
      configPath,
      stringify({
        clusterId: 'fuzz',
        home: join(dir, 'home'),
        store: { path: dbPath },
        api: { host: '127.0.0.1', port },
        pool: { heartbeatIntervalMs: 1_000, lostAfterMs: 3_600_000 },
        providers: [
          {
            kind: 'local',
            name: 'cloud',
            offerings: [{ instanceType: 'local.small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.0832 }],
          },
        ],
        log: { level: 'warn' },
      }),
    );
    serve = spawn(process.execPath, [CLI_ENTRY, 'serve', '--config', configPath], {
      env: cleanEnv({ AWS_EC2_METADATA_DISABLED: 'true', METADATA_SERVER_DETECTION: 'none' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer): void => {
      serveLog = (serveLog + chunk.toString()).slice(-20_000);
    };
    serve.stdout?.on('data', keep);
    serve.stderr?.on('data', keep);
    await waitFor(async () => {
      if (serve.exitCode !== null) throw new Error(`serve exited: ${serveLog}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true;
    });
    // serve writes its admin token file once it is up; wait for it, so the baseline dump holds that token's row.
    await waitFor(async () => existsSync(join(dir, 'home', 'admin.token')));
    reader = new DatabaseSync(dbPath, { readOnly: true });
    const doc = await rawRequest(url, { method: 'GET', path: '/v1/openapi.json' });
    const paths = (doc.json as { paths: Record<string, Record<string, unknown>> }).paths;
    routes = Object.entries(paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
  });
  after(async () => {
    reader?.close();
    if (serve && serve.exitCode === null) {
      const exited = once(serve, 'exit');
      serve.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const garbageSegment = fc.oneof(
    fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
    fc.constantFrom('%', '%zz', '..', '%2e%2e', '%00', 'x'.repeat(5_000), '%F0%9F%92%A9', '-1', '1e999'),
  );
  const jsonValue = fc.jsonValue({ maxDepth: 4 });
  const taskSpec = fc.record(
    {
      command: fc.oneof(fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), jsonValue),
      resources: fc.record(
        {
          cpu: fc.oneof(
            fc.double(),
            fc.integer(),
            fc.string({ maxLength: 12 }),
            fc.constantFrom('500m', '1e306', 4096, 4097),
          ),
          memory: fc.oneof(
            fc.double(),
            fc.string({ maxLength: 12 }),
            fc.constantFrom('4Gi', '99999999999999999999999Gi', 1),
          ),
          gpus: fc.oneof(fc.integer(), fc.double()),
          netMbps: fc.oneof(fc.integer(), fc.constant(400_001)),
        },
        { requiredKeys: [] },
      ),
      owner: fc.record(
        { team: fc.constantFrom('vision', 'ml', '', '=x'), project: fc.constantFrom('p', 'q') },
        { requiredKeys: [] },
      ),
      priority: fc.oneof(fc.integer(), fc.double()),
      revocable: fc.oneof(fc.boolean(), jsonValue),
      constraints: fc.oneof(fc.constant({}), jsonValue),
      extra: jsonValue,
    },
    { requiredKeys: [] },
  );
  /** Valid bodies, so requests reach the handlers and change things: each refused one must then change nothing. */
  const valid: Record<string, fc.Arbitrary<unknown>> = {
    'POST /v1/tasks': fc.record({
      tasks: fc.array(
        fc.record({
          command: fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 3 }),
          resources: fc.record({ cpu: fc.integer({ min: 1, max: 4097 }), memory: fc.constantFrom(64, '1Gi', '64Ti') }),
          owner: fc.record({ team: fc.constantFrom('vision', 'ml'), project: fc.constantFrom('p', 'q') }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
    'POST /v1/tokens': fc.record({
      role: fc.constantFrom('submitter', 'finance'),
      name: fc.constantFrom('n1', 'n2'),
      teams: fc.constantFrom(['vision'], ['ml']),
    }),
    'PUT /v1/budgets/{id}': fc.record({
      scope: fc.record({ kind: fc.constant('team'), team: fc.constantFrom('vision', 'ml') }),
      period: fc.constantFrom('day', 'burn'),
      capUsd: fc.integer({ min: 0, max: 100 }),
    }),
    'POST /v1/agents/{id}/heartbeat': fc.record({ runningTaskIds: fc.constant([]) }),
    'POST /v1/agents/{id}/tasks/{taskId}/report': fc.record({
      kind: fc.constant('output'),
      outputTail: fc.string({ maxLength: 20 }),
    }),
    'POST /v1/agents/{id}/leave': fc.record({ reason: fc.string({ maxLength: 10 }) }),
    'POST /v1/agents/register': fc.record({
      protocolVersion: fc.constant(1),
      name: fc.constantFrom('r1', 'r2'),
      capacity: fc.record({
        cpuMillis: fc.integer({ min: 0, max: 5_000_000 }),
        memoryMiB: fc.constant(1024),
        gpus: fc.constant(0),
        netMbps: fc.constant(0),
      }),
      labels: fc.constant({}),
    }),
  };
  /** Bodies shaped like each route's, so fuzzing reaches past the schema as well as into it. */
  const shaped = fc.oneof(
    fc.record({ tasks: fc.array(taskSpec, { maxLength: 3 }) }),
    fc.record(
      {
        role: fc.constantFrom('admin', 'submitter', 'finance', 'agent', 'root'),
        name: fc.string({ maxLength: 10 }),
        teams: fc.oneof(fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }), jsonValue),
        projects: jsonValue,
      },
      { requiredKeys: ['role', 'name'] },
    ),
    fc.record(
      {
        scope: fc.oneof(
          fc.constant({ kind: 'global' }),
          fc.record({ kind: fc.constant('team'), team: fc.constantFrom('vision', 'ml', '') }),
          jsonValue,
        ),
        period: fc.constantFrom('hour', 'day', 'month', 'burn', 'year'),
        capUsd: fc.oneof(fc.double(), fc.integer()),
        onCap: fc.constantFrom('preempt', 'finish', 'x'),
      },
      { requiredKeys: [] },
    ),
    fc.record(
      { runningTaskIds: fc.oneof(fc.array(fc.constantFrom(...(ids.taskId ?? ['t'])), { maxLength: 3 }), jsonValue) },
      { requiredKeys: [] },
    ),
    fc.record(
      {
        kind: fc.constantFrom('output', 'exit', 'handback', 'x'),
        exitCode: fc.oneof(fc.integer(), fc.double()),
        outputTail: fc.string({ maxLength: 50 }),
        reason: fc.string({ maxLength: 10 }),
      },
      { requiredKeys: [] },
    ),
    fc.record(
      {
        protocolVersion: fc.oneof(fc.constant(1), fc.integer()),
        name: fc.string({ maxLength: 10 }),
        capacity: fc.record({
          cpuMillis: fc.oneof(fc.integer(), fc.double()),
          memoryMiB: fc.integer(),
          gpus: fc.integer(),
          netMbps: fc.integer(),
        }),
        labels: fc.oneof(fc.constant({}), jsonValue),
      },
      { requiredKeys: [] },
    ),
    fc.constant({}),
  );

  function requestArb(): fc.Arbitrary<Fuzzed> {
    const callerNames = Object.keys(callers);
    return fc
      .constantFrom(...routes)
      .chain((route) =>
        fc.record({
          route: fc.constant(route),
          valid: fc.option(
            (valid[`${route.method} ${route.path}`] ?? fc.constant({})).map((v) => JSON.stringify(v)),
            { freq: 3 },
          ),
          otherMethod: fc.oneof(
            { weight: 12, arbitrary: fc.constant(null) },
            { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
          ),
          caller: fc.constantFrom(...callerNames),
          params: fc.dictionary(
            fc.constantFrom('id', 'taskId'),
            fc.oneof(fc.constantFrom(...(ids.id ?? ['x'])), garbageSegment),
          ),
          query: fc.array(
            fc.tuple(
              fc.constantFrom('state', 'team', 'project', 'limit', 'cursor', 'by', 'from', 'to', 'x', 'limit'),
              fc.oneof(
                fc.string({ maxLength: 20 }),
                fc.constantFrom(
                  '0',
                  '1',
                  '1000',
                  '1001',
                  '-1',
                  'pending,running',
                  'team',
                  'job',
                  '2026-02-31',
                  '2026-01-01T00:00:00Z',
                  'WyJ0YXNrcyIsMSwxXQ',
                ),
              ),
            ),
            { maxLength: 3 },
          ),
          body: fc.oneof(
            { weight: 3, arbitrary: shaped.map((v) => JSON.stringify(v)) },
            { weight: 2, arbitrary: jsonValue.map((v) => JSON.stringify(v)) },
            { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
            { weight: 1, arbitrary: fc.constant(undefined) },
          ),
          contentType: fc.oneof(
            { weight: 8, arbitrary: fc.constant('application/json') },
            {
              weight: 1,
              arbitrary: fc.constantFrom(
                'application/json; charset=utf-8',
                'text/plain',
                undefined,
                'application/json; charset=latin1',
              ),
            },
          ),
        }),
      )
      .map(({ route, otherMethod, caller, params, query, valid: validBody, body: fuzzedBody, contentType }) => {
        // Mostly the route's own shape (fc.option with freq 3 leaves a third to the fuzzed bodies).
        const body = validBody ?? fuzzedBody;
        const path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => params[name] ?? ids.id?.[0] ?? 'x');
        const search = new URLSearchParams(query).toString();
        const headers: Record<string, string> = {};
        const secret = callers[caller];
        if (secret !== undefined) headers.authorization = `Bearer ${secret}`;
        if (contentType !== undefined && body !== undefined) headers['content-type'] = contentType;
        return {
          method: otherMethod ?? route.method,
          path: search ? `${path}?${search}` : path,
          headers,
          ...(body === undefined ? {} : { body }),
        };
      });
  }

  it(`answers ${REQUESTS} fuzzed requests below 500, and changes the domain tables only with a 2xx`, async () => {
    console.log(`      fuzz seed ${SEED} (SPILLWAY_FUZZ_SEED=${SEED} replays it), ${REQUESTS} requests`);
    const counts = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb(), async (req) => {
        const before = dump();
        let res: RawResponse;
        try {
          res = await rawRequest(url, req);
        } catch (err) {
          throw new Error(`${req.method} ${req.path}: no answer (${(err as Error).message})`, { cause: err });
        }
        counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
        assert.equal(serve.exitCode, null, `serve exited after ${req.method} ${req.path}: ${serveLog}`);
        assert.ok(
          res.status > 0 && res.status < 500,
          `${req.method} ${req.path} -> ${res.status} ${res.text.slice(0, 300)}`,
        );
        if (res.status < 200 || res.status >= 300) {
          assert.equal(dump(), before, `${req.method} ${req.path} -> ${res.status} changed the domain tables`);
        }
      }),
      { numRuns: REQUESTS, seed: SEED, endOnFailure: true },
    );
    const health = await rawRequest(url, { method: 'GET', path: '/healthz' });
    assert.equal(health.status, 200, 'the server is still up');
    assert.equal(
      (health.json as { leader: boolean }).leader,
      false,
      'the loop never ran: another holder has the lease',
    );
    assert.doesNotMatch(serveLog, /failed (handling|answering) request/, 'no request failed inside the server');
    console.log(
      `      answers: ${[...counts]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}x${n}`)
        .join(' ')}`,
    );
    // The fuzzer reached past authentication and validation: some requests succeeded and some were refused.
    assert.ok(
      [...counts.keys()].some((s) => s >= 200 && s < 300),
      'some requests succeeded',
    );
    assert.ok((counts.get(400) ?? 0) > 0 && (counts.get(403) ?? 0) > 0 && (counts.get(401) ?? 0) > 0);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waiting ${timeoutMs} ms: the condition never held`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
