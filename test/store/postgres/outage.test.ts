import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'mocha';
import { PostgresStoreError } from '../../../src/store/postgres/pg-db.ts';
import { openPostgresStore, type PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { PostgresServer } from '../../helpers/postgres-server.ts';
import { T0, newTask } from '../helpers.ts';
import { TempDatabases } from './helpers.ts';

/**
 * Losing the database (issue 17 item 3, the store's half): while PostgreSQL is down every call fails retryably, and
 * once it is back the same store answers again, with nothing committed lost and nothing half-written.
 */
describe('postgres store: the server goes away and comes back', () => {
  let server: PostgresServer;
  let dbs: TempDatabases;
  let store: PostgresStore;

  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => {
    await server.stop();
  });
  beforeEach(async () => {
    dbs = new TempDatabases(server);
    const database = await dbs.create();
    store = await openPostgresStore({
      url: server.url(database),
      passwordFile: dbs.passwordFile,
      maxConnections: 4,
      connectTimeoutMs: 2_000,
    });
  });
  afterEach(async () => {
    await server.resume();
    await store.close();
    await dbs.cleanup();
  });

  it('fails retryably while the server is down and answers again, unchanged, once it is back', async () => {
    const [kept] = await store.tasks.insert([newTask()], T0);
    // Idle connections in the pool, as a controller between passes has.
    await Promise.all([store.tasks.get(kept!.id), store.tasks.countByState(), store.agents.list()]);
    await server.halt();

    for (const call of [() => store.tasks.get(kept!.id), () => store.tasks.insert([newTask()], T0 + 1)]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof PostgresStoreError, String(err));
        assert.equal(err.retryable, true, err.message);
        return true;
      });
    }

    await server.resume();
    assert.deepEqual(await store.tasks.get(kept!.id), kept);
    assert.deepEqual(
      (await store.tasks.list()).map((t) => t.id),
      [kept!.id],
    );
    const [after] = await store.tasks.insert([newTask()], T0 + 2);
    assert.equal((await store.tasks.get(after!.id))?.state, 'pending');
  });

  it('rolls back a transaction the restart cut, and the caller sees a retryable error', async () => {
    const [task] = await store.tasks.insert([newTask()], T0);
    let halted: Promise<void> | undefined;
    await assert.rejects(
      store.transaction(async () => {
        await store.tasks.cancel(task!.id, 'cancelled', T0 + 1);
        halted = server.halt();
        await halted;
        await store.tasks.countByState();
      }),
      (err: unknown) => err instanceof PostgresStoreError && err.retryable,
    );
    await halted;
    await server.resume();
    assert.equal((await store.tasks.get(task!.id))?.state, 'pending');
  });
});
