import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'mocha';
import pg from 'pg';
import { ConflictError } from '../../../src/core/errors.ts';
import { FencedError } from '../../../src/store/fenced-error.ts';
import { openPostgresStore, type PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { PostgresServer } from '../../helpers/postgres-server.ts';
import { waitFor } from '../../helpers/wait.ts';
import { T0, launchIntent, newTask, privateAgent } from '../helpers.ts';
import { TempDatabases } from './helpers.ts';

/**
 * What SQLite's single writer gives for free and PostgreSQL's READ COMMITTED does not: two controllers (two pools)
 * changing the same rows at once. The repositories lock what they read before writing; these cases race real
 * transactions and check the outcome is one of the serial ones.
 */
describe('postgres store: concurrent writers', () => {
  let server: PostgresServer;
  let dbs: TempDatabases;
  let a: PostgresStore;
  let b: PostgresStore;
  let database: string;

  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => {
    await server.stop();
  });
  beforeEach(async () => {
    dbs = new TempDatabases(server);
    database = await dbs.create();
    const open = { url: server.url(database), passwordFile: dbs.passwordFile, maxConnections: 8 };
    a = await openPostgresStore(open);
    b = await openPostgresStore(open);
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    await dbs.cleanup();
  });

  it('records one agent per instance when two controllers confirm the same launch at once', async () => {
    const intent = launchIntent({ count: 3 });
    await a.intents.insert(intent);
    // A third session blocks writes to agents, so both confirmations are certainly in flight together: each has read
    // what it needed and waits, at its first agent insert or at the intent's row lock, until the gate opens.
    const gate = new pg.Client(server.connection(database));
    await gate.connect();
    try {
      await gate.query('BEGIN');
      await gate.query('LOCK TABLE agents IN EXCLUSIVE MODE');
      const both = Promise.allSettled([
        a.intents.completeLaunch(intent.id, ['i-1', 'i-2', 'i-3'], T0),
        b.intents.adoptInstances(intent.id, ['i-2', 'i-3', 'i-4'], T0 + 1),
      ]);
      await waitFor('both confirmations to wait', async () => {
        const { rows } = await gate.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()',
        );
        return rows[0]?.n === 2;
      });
      await gate.query('COMMIT');
      const outcomes = await both;
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status)),
        ['fulfilled', 'fulfilled'],
      );
    } finally {
      await gate.end();
    }
    const agents = await a.agents.list();
    assert.deepEqual(agents.map((agent) => agent.instanceId).sort(), ['i-1', 'i-2', 'i-3', 'i-4']);
    const stored = await a.intents.get(intent.id);
    assert.equal(stored?.state, 'done');
    assert.deepEqual([...(stored?.instanceIds ?? [])].sort(), ['i-1', 'i-2', 'i-3', 'i-4']);
    assert.equal((await a.ledger.overlapping(T0, T0 + 1)).agents.length, 4);
  });

  it('never leaves a cancelled task placed when placing and cancelling race', async () => {
    const agent = await a.agents.insert(privateAgent(), T0);
    const tasks = await a.tasks.insert(
      Array.from({ length: 30 }, () => newTask({ resources: { cpuMillis: 1, memoryMiB: 1, gpus: 0, netMbps: 0 } })),
      T0,
    );
    const outcomes = await Promise.allSettled(
      tasks.flatMap((task) => [
        a.tasks.place(task.id, agent.id, T0 + 1),
        b.tasks.cancel(task.id, 'cancelled by its owner', T0 + 2),
      ]),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof ConflictError, String(outcome.reason));
    }
    for (const task of tasks) {
      const stored = await a.tasks.get(task.id);
      assert.equal(stored?.state, 'cancelled', `task ${task.id}`);
    }
    assert.equal((await a.agents.get(agent.id))?.allocated.cpuMillis, 0);
    assert.notEqual((await a.agents.get(agent.id))?.idleSinceMs, null);
  });

  it("refuses a deposed leader's fenced intent and task writes, which change nothing", async () => {
    const old = await a.fencedLease.acquire('controller', 'ctl-a', 60_000);
    assert.ok(old);
    const agent = await a.agents.insert(privateAgent(), T0);
    const [task] = await a.tasks.insert([newTask()], T0);
    await a.fencedLease.release('controller', 'ctl-a', old.epoch);
    const current = await b.fencedLease.acquire('controller', 'ctl-b', 60_000);
    assert.equal(current?.epoch, old.epoch + 1);

    const stale = launchIntent();
    await assert.rejects(
      a.fencedTransaction('controller', old.epoch, async () => {
        await a.intents.insert(stale);
        await a.tasks.place(task!.id, agent.id, T0 + 1);
      }),
      (err: unknown) => err instanceof FencedError && err.currentEpoch === old.epoch + 1,
    );
    assert.equal(await a.intents.get(stale.id), undefined);
    assert.equal((await a.tasks.get(task!.id))?.state, 'pending');

    const fresh = launchIntent();
    await b.fencedTransaction('controller', current!.epoch, async () => {
      await b.intents.insert(fresh);
      await b.tasks.place(task!.id, agent.id, T0 + 2);
    });
    assert.deepEqual(await a.intents.get(fresh.id), fresh);
    assert.equal((await a.tasks.get(task!.id))?.state, 'placed');
  });

  it('lets an agent be lost while its tasks finish and are cancelled, without a deadlock', async () => {
    for (let round = 0; round < 5; round += 1) {
      const agent = await a.agents.insert(privateAgent({ name: `rack-${round}` }), T0);
      const tasks = await a.tasks.insert(
        Array.from({ length: 12 }, () => newTask({ resources: { cpuMillis: 1, memoryMiB: 1, gpus: 0, netMbps: 0 } })),
        T0,
      );
      for (const task of tasks) await a.tasks.place(task.id, agent.id, T0);
      await a.tasks.claim(agent.id, T0 + 1);
      const outcomes = await Promise.allSettled([
        ...tasks.map((task, i) =>
          i % 2 === 0
            ? b.tasks.cancel(task.id, 'cancelled by its owner', T0 + 2)
            : b.tasks.finish(task.id, agent.id, { exitCode: 0, outputTail: '' }, T0 + 2),
        ),
        a.agents.setState(agent.id, 'lost', 'stopped answering', T0 + 3),
      ]);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof ConflictError, String(outcome.reason));
      }
      assert.equal((await a.agents.get(agent.id))?.state, 'lost');
      for (const task of tasks) {
        assert.ok(['pending', 'cancelled', 'succeeded'].includes((await a.tasks.get(task.id))?.state ?? ''));
      }
      assert.equal((await a.agents.get(agent.id))?.allocated.cpuMillis, 0);
    }
  });
});
