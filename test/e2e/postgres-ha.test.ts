import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'mocha';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { ApiClient } from '../../src/api/client.ts';
import type { Health } from '../../src/api/types.ts';
import type { Task } from '../../src/core/task.ts';
import { POSTGRES_PASSWORD, PostgresServer } from '../helpers/postgres-server.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  adminClient,
  cleanup,
  freePort,
  makeCluster,
  ServeProcess,
  waitHealthy,
  type Cluster,
} from './harness.ts';

/**
 * Two `spillway serve` processes on one PostgreSQL store (`store: {kind: postgres}`): one leads by the fenced lease,
 * the other answers the API and stands by. They share the local cloud's folder, as controllers of one cluster share
 * its cloud. (Issue 17's full failover scenarios, with network namespaces and three controllers, build on this.)
 */
const PgClient = pg.Client;

describe('end to end: two controllers on one PostgreSQL store', function () {
  this.timeout(180_000);
  let db: PostgresServer;
  let cluster: Cluster | undefined;
  let database: string | undefined;
  const serves: ServeProcess[] = [];
  const clients: ApiClient[] = [];

  before(async () => {
    db = await PostgresServer.start();
  });
  after(async () => {
    await db?.stop();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of serves) await s.stop('SIGKILL').catch(() => undefined);
    await cleanup(
      cluster,
      serves.map((s) => s.child),
    );
    serves.length = 0;
  });

  /** A cluster whose store is a fresh database of the test server, and its two controllers' URLs. */
  async function twoControllers(
    firstEnv: Record<string, string> = {},
  ): Promise<{ first: ServeProcess; second: ServeProcess; urls: [string, string] }> {
    database = await db.createDatabase('ha');
    cluster = await makeCluster();
    const c = cluster;
    const passwordFile = join(c.dir, 'pg-password');
    writeFileSync(passwordFile, `${POSTGRES_PASSWORD}\n`, { mode: 0o600 });
    const config = parse(readFileSync(c.configPath, 'utf8')) as Record<string, unknown> & { api: { port: number } };
    config.store = { kind: 'postgres', url: db.url(database), passwordFile };
    writeFileSync(c.configPath, stringify(config));
    const secondPort = await freePort();
    const secondConfig = join(c.dir, 'second.yaml');
    writeFileSync(secondConfig, stringify({ ...config, api: { ...config.api, port: secondPort } }));

    const first = new ServeProcess(c, { name: 'first', env: firstEnv });
    serves.push(first);
    await waitHealthy(c.url, first);
    const firstClient = client(c.url);
    await waitFor('the first to take the lease', async () => (await firstClient.get<Health>('/healthz')).leader);
    const second = new ServeProcess(c, { name: 'second', configPath: secondConfig });
    serves.push(second);
    const secondUrl = `http://127.0.0.1:${secondPort}`;
    await waitHealthy(secondUrl, second);
    assert.match(first.log(), /opened the store.*postgres postgresql:\/\/spillway@\//);
    assert.doesNotMatch(first.log() + second.log(), new RegExp(POSTGRES_PASSWORD), 'the password is never logged');
    return { first, second, urls: [c.url, secondUrl] };
  }

  function client(url: string, token?: string): ApiClient {
    const made = new ApiClient({ url, ...(token === undefined ? {} : { token }), timeoutMs: 5_000 });
    clients.push(made);
    return made;
  }

  async function runToSuccess(api: ApiClient, count: number): Promise<Task[]> {
    const { tasks } = await api.post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: Array.from({ length: count }, () => ({ command: ['sleep', '1'], resources: { cpu: 1, memory: '128Mi' } })),
    });
    return waitFor(
      `${count} tasks to succeed`,
      async () => {
        const now = await Promise.all(tasks.map((t) => api.get<Task>(`/v1/tasks/${t.id}`)));
        return now.every((t) => t.state === 'succeeded') ? now : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
  }

  it('runs work submitted to the standby, and the standby takes over and finishes work when the leader is killed', async () => {
    const { first, second, urls } = await twoControllers();
    const token = readFileSync(join(cluster!.home, 'admin.token'), 'utf8').trim();
    const viaSecond = client(urls[1], token);
    assert.equal((await viaSecond.get<Health>('/healthz')).leader, false);
    // Submitted to the standby, planned and launched by the leader: one store.
    const done = await runToSuccess(viaSecond, 2);
    assert.equal(done.length, 2);
    assert.match(first.log(), /decided launch/);
    assert.doesNotMatch(second.log(), /decided (launch|terminate)/);

    await first.stop('SIGKILL');
    await waitFor('the second to take over', async () => (await viaSecond.get<Health>('/healthz')).leader, {
      timeoutMs: 20_000,
    });
    assert.match(second.log(), /took the lease/);
    const after = await runToSuccess(viaSecond, 2);
    assert.equal(after.length, 2);
  });

  it('records nothing for a leader paused mid-pass, between deciding a launch and recording it (the fence)', async () => {
    // The first stops itself when its pass has decided a launch and is about to record the intent.
    const { first, second, urls } = await twoControllers({ SPILLWAY_FAILPOINTS: 'intent.writing=stop' });
    const token = readFileSync(join(cluster!.home, 'admin.token'), 'utf8').trim();
    const viaSecond = client(urls[1], token);
    const done = runToSuccess(viaSecond, 1);
    await waitFor('the first to stop before recording', () => /failpoint intent.writing: stopping/.test(first.log()), {
      timeoutMs: 30_000,
    });
    await waitFor('the second to take over', async () => (await viaSecond.get<Health>('/healthz')).leader, {
      timeoutMs: 20_000,
    });
    await done;
    const secondLaunches = (second.log().match(/"message":"decided launch"/g) ?? []).length;
    assert.ok(secondLaunches >= 1);
    first.child.kill('SIGCONT');
    // The old leader goes on from where it stopped: its intent insert carries its old epoch, and the store refuses it.
    await waitFor('the store to refuse the old tenure', () => /refused a write of an old tenure/.test(first.log()), {
      timeoutMs: 20_000,
    });
    assert.doesNotMatch(first.log(), /"message":"decided launch"/);
    assert.doesNotMatch(first.log(), /"message":"launched instances"/);
    // The store holds the new leader's launch intents only.
    const pg = new PgClient(db.connection(database!));
    await pg.connect();
    try {
      const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM intents WHERE kind = 'launch'`);
      assert.equal(rows[0]?.n, secondLaunches);
    } finally {
      await pg.end();
    }
  });

  it('answers 503 with Retry-After while PostgreSQL is down, and carries on when it returns', async () => {
    const { first, urls } = await twoControllers();
    const token = readFileSync(join(cluster!.home, 'admin.token'), 'utf8').trim();
    await db.halt();
    try {
      const answer = await fetch(`${urls[0]}/v1/tasks?limit=10`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(answer.status, 503);
      assert.ok(Number(answer.headers.get('retry-after')) >= 1);
      assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'unavailable');
    } finally {
      await db.resume();
    }
    // Back: the same controllers take and run work.
    const done = await runToSuccess(client(urls[1], token), 1);
    assert.equal(done.length, 1);
    assert.ok(first.child.exitCode === null, 'the leader lived through the outage');
  });

  it('refuses every write of a leader paused past its lease once the other took over (SIGSTOP, SIGCONT)', async () => {
    const { first, second, urls } = await twoControllers();
    const token = readFileSync(join(cluster!.home, 'admin.token'), 'utf8').trim();
    const viaSecond = client(urls[1], token);
    first.child.kill('SIGSTOP');
    await waitFor('the second to take over', async () => (await viaSecond.get<Health>('/healthz')).leader, {
      timeoutMs: 20_000,
    });
    const launchesBefore = (first.log().match(/decided launch/g) ?? []).length;
    // Work the new leader bursts for, while the old one is still frozen.
    const burst = runToSuccess(viaSecond, 2);
    await waitFor('a launch by the second', () => /decided launch/.test(second.log()), { timeoutMs: 30_000 });
    first.child.kill('SIGCONT');
    await burst;
    // The old leader woke up: it stands by and decided nothing more.
    await waitFor(
      'the first to stand by',
      () => /lost the lease; standing by|refused a write of an old tenure; standing by/.test(first.log()),
      { timeoutMs: 20_000 },
    );
    const viaFirst = client(urls[0]);
    assert.equal((await viaFirst.get<Health>('/healthz')).leader, false);
    assert.equal((first.log().match(/decided launch/g) ?? []).length, launchesBefore);
    assert.equal((await viaSecond.get<Health>('/healthz')).leader, true);
    adminClient(cluster!).close();
  });
});
