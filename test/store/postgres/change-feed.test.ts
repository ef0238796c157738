import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'mocha';
import { PG_MIGRATIONS } from '../../../src/store/postgres/migrations.ts';
import { openPostgresStore, type PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import type { ModelRows } from '../../../src/store/store.ts';
import { PostgresServer } from '../../helpers/postgres-server.ts';
import { T0, newTask } from '../helpers.ts';
import { Writer } from './feed-writer.ts';
import { TempDatabases } from './helpers.ts';

/**
 * What the feed must get right with many writers, which SQLite's single writer never shows: transactions that stamp
 * in one order and commit in another, roll back, or stay open while the feed is read. Writers are separate sessions
 * (raw `pg` clients, as another controller or API replica would be), so each step happens exactly when the test says.
 */
describe('postgres store: the change feed with concurrent writers', () => {
  let server: PostgresServer;
  let dbs: TempDatabases;
  let database: string;
  let store: PostgresStore;
  let writers: Writer[];

  before(async () => {
    // No autovacuum: a background ANALYZE holds a transaction id, and so the feed's watermark, while it runs.
    server = await PostgresServer.start({ settings: { autovacuum: 'off' } });
  });
  after(async () => {
    await server.stop();
  });
  beforeEach(async () => {
    dbs = new TempDatabases(server);
    database = await dbs.create();
    store = await openPostgresStore({ url: server.url(database), passwordFile: dbs.passwordFile, maxConnections: 4 });
    writers = [];
  });
  afterEach(async () => {
    for (const writer of writers) await writer.end();
    await store.close();
    await dbs.cleanup();
  });

  async function writer(): Promise<Writer> {
    const w = await Writer.connect(server.connection(database));
    writers.push(w);
    return w;
  }

  const reasons = (rows: ModelRows): [string, string][] =>
    rows.tasks.map((t): [string, string] => [t.row.id, t.row.reason]).sort(([a], [b]) => a.localeCompare(b));

  it('brings an older transaction’s row after it commits, though a younger one committed and was read first', async () => {
    const [x, y] = await store.tasks.insert([newTask(), newTask()], T0);
    const start = await store.changes.revision();
    const t1 = await writer();
    const t2 = await writer();
    await t1.begin();
    await t1.setReason(x!.id, 'written by T1');
    await t2.begin();
    await t2.setReason(y!.id, 'written by T2');
    const [xid1, xid2] = [await t1.xid(), await t2.xid()];
    assert.ok(xid1 < xid2, `T1 (${xid1}) stamps before T2 (${xid2})`);
    await t2.commit();

    // T2 committed, T1 has not: the read may not pass T1's id, whatever it answers of T2.
    const between = await store.changes.since(start);
    assert.ok(!between.tasks.some((t) => t.row.id === x!.id));

    await t1.commit();
    const afterBoth = await store.changes.since(between.rev);
    const seen = new Map([...reasons(between), ...reasons(afterBoth)]);
    assert.deepEqual(
      seen,
      new Map([
        [x!.id, 'written by T1'],
        [y!.id, 'written by T2'],
      ]),
    );
    assert.ok(afterBoth.rev >= xid2);
    // How: the read between the commits stopped below T1's id, so the next one started below it.
    assert.ok(between.rev < xid1, `the read stops below T1: rev ${between.rev}, T1 ${xid1}`);
  });

  it('never shows a rolled-back transaction’s rows, nor a rolled-back savepoint’s', async () => {
    const [x, y, z] = await store.tasks.insert([newTask(), newTask(), newTask()], T0);
    const start = await store.changes.revision();
    const w = await writer();
    await w.begin();
    await w.setReason(x!.id, 'rolled back');
    const phantom = await w.insertTask('phantom');
    await w.rollback();

    // A committed store transaction whose nested part fails: only the outer write stays.
    await store.transaction(async () => {
      await store.tasks.noteWaiting([{ taskId: y!.id, reason: 'kept' }]);
      await assert.rejects(
        store.transaction(async () => {
          await store.tasks.noteWaiting([{ taskId: z!.id, reason: 'undone' }]);
          throw new Error('nested part fails');
        }),
        /nested part fails/,
      );
    });
    const page = await store.changes.since(start);
    assert.deepEqual(reasons(page), [[y!.id, 'kept']]);
    assert.ok(page.rev > start);
    const loaded = await store.changes.current();
    assert.deepEqual(
      reasons(loaded),
      [
        [x!.id, ''],
        [y!.id, 'kept'],
        [z!.id, ''],
      ].sort(([a], [b]) => a!.localeCompare(b!)),
    );
    assert.ok(!loaded.tasks.some((t) => t.row.id === phantom));
  });

  it('does not show an open transaction’s rows nor pass them, and catches up when it commits', async () => {
    const [x, y] = await store.tasks.insert([newTask(), newTask()], T0);
    const start = await store.changes.revision();
    const open = await writer();
    await open.begin();
    await open.setReason(x!.id, 'uncommitted');
    const inserted = await open.insertTask('uncommitted insert');
    const openXid = await open.xid();
    // A later writer commits meanwhile: the feed holds it back until the open one ends (the delay an open writing
    // transaction costs; see PgChangeRepo).
    const later = await writer();
    await later.autocommit((c) => c.query(`UPDATE tasks SET reason = 'committed later' WHERE id = $1`, [y!.id]));

    for (const page of [await store.changes.since(start), await store.changes.since(start, 1)]) {
      assert.deepEqual(page.tasks, []);
      assert.ok(page.rev < openXid, `rev ${page.rev} stays below the open transaction ${openXid}`);
    }
    assert.ok((await store.changes.revision()) < openXid);
    const loaded = await store.changes.current();
    assert.equal(loaded.tasks.find((t) => t.row.id === x!.id)?.row.reason, '');
    assert.ok(!loaded.tasks.some((t) => t.row.id === inserted));
    // `current` is not held back: what committed is there.
    assert.equal(loaded.tasks.find((t) => t.row.id === y!.id)?.row.reason, 'committed later');
    assert.ok(loaded.rev < openXid);

    await open.commit();
    const caughtUp = await store.changes.since(start);
    assert.deepEqual(
      new Map(reasons(caughtUp)),
      new Map([
        [x!.id, 'uncommitted'],
        [y!.id, 'committed later'],
        [inserted, 'uncommitted insert'],
      ]),
    );
  });

  it('is not held back by a read-only transaction, which has no transaction id', async () => {
    const [x] = await store.tasks.insert([newTask()], T0);
    const start = await store.changes.revision();
    const reader = await writer();
    await reader.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await reader.client.query('SELECT count(*) FROM tasks');
    await store.tasks.noteWaiting([{ taskId: x!.id, reason: 'seen at once' }]);
    assert.deepEqual(reasons(await store.changes.since(start)), [[x!.id, 'seen at once']]);
    await reader.client.query('COMMIT');
  });

  it('leaves out, inside a writing transaction, the rows that transaction wrote', async () => {
    const [x, y] = await store.tasks.insert([newTask(), newTask()], T0);
    const start = await store.changes.revision();
    const watcher = await writer();
    await assert.rejects(
      store.transaction(async () => {
        await store.tasks.noteWaiting([{ taskId: x!.id, reason: 'mine, not yet committed' }]);
        // A younger transaction commits meanwhile: the snapshot's xmin is then above this transaction's own id
        // (a session's snapshot does not list its own transaction as running).
        await watcher.autocommit((c) => c.query(`UPDATE tasks SET reason = 'younger' WHERE id = $1`, [y!.id]));
        const own = await store.changes.revision();
        const xid = await watcher.otherXid();
        assert.ok(start < xid);
        assert.ok(own < xid, `rev ${own} stays below its own transaction ${xid}`);
        const page = await store.changes.since(start);
        assert.deepEqual(page.tasks, []);
        const loaded = await store.changes.current();
        assert.ok(!loaded.tasks.some((t) => t.row.id === x!.id));
        assert.equal(loaded.tasks.find((t) => t.row.id === y!.id)?.row.reason, 'younger');
        throw new Error('roll it back');
      }),
      /roll it back/,
    );
    assert.deepEqual(reasons(await store.changes.since(start)), [[y!.id, 'younger']]);
  });

  it('keeps a transaction’s rows on one page when they outnumber the limit', async () => {
    const tasks = await store.tasks.insert(
      Array.from({ length: 5 }, () => newTask()),
      T0,
    );
    const start = await store.changes.revision();
    // One transaction restamps three rows; two more transactions one row each.
    await store.tasks.noteWaiting(tasks.slice(0, 3).map((t) => ({ taskId: t.id, reason: 'together' })));
    await store.tasks.noteWaiting([{ taskId: tasks[3]!.id, reason: 'alone' }]);
    await store.tasks.noteWaiting([{ taskId: tasks[4]!.id, reason: 'last' }]);
    const first = await store.changes.since(start, 2);
    assert.deepEqual(
      first.tasks.map((t) => t.row.id),
      tasks.slice(0, 3).map((t) => t.id),
    );
    assert.equal(first.more, true);
    const rest: string[] = [];
    let rev = first.rev;
    for (let more = true; more;) {
      const page = await store.changes.since(rev, 2);
      rest.push(...page.tasks.map((t) => t.row.id));
      rev = page.rev;
      more = page.more;
    }
    assert.deepEqual(rest, [tasks[3]!.id, tasks[4]!.id]);
  });

  it('is held back by an open writing transaction in another database of the same server, until it ends', async () => {
    // Transaction ids are server-wide: the README's caveat, shown.
    const [x] = await store.tasks.insert([newTask()], T0);
    const start = await store.changes.revision();
    const elsewhere = await Writer.connect(server.connection('postgres'));
    writers.push(elsewhere);
    await elsewhere.begin();
    await elsewhere.client.query('SELECT pg_current_xact_id()');
    await store.tasks.noteWaiting([{ taskId: x!.id, reason: 'waits for the other database' }]);
    assert.deepEqual((await store.changes.since(start)).tasks, []);
    await elsewhere.rollback();
    assert.deepEqual(reasons(await store.changes.since(start)), [[x!.id, 'waits for the other database']]);
  });

  it('upgrades a database holding rows: they load with stamp 0, and a write to one stamps it', async () => {
    const old = await dbs.create();
    const options = { url: server.url(old), passwordFile: dbs.passwordFile, maxConnections: 2 };
    const before = await openPostgresStore({ ...options, migrations: PG_MIGRATIONS.slice(0, 9) });
    const [x, y] = await before.tasks.insert([newTask(), newTask()], T0);
    await before.close();
    const upgraded = await openPostgresStore(options);
    try {
      const loaded = await upgraded.changes.current();
      assert.deepEqual(reasons(loaded), [...[x!.id, y!.id].sort().map((id): [string, string] => [id, ''])]);
      assert.deepEqual((await upgraded.changes.since(loaded.rev)).tasks, []);
      await upgraded.tasks.noteWaiting([{ taskId: y!.id, reason: 'after the upgrade' }]);
      assert.deepEqual(reasons(await upgraded.changes.since(loaded.rev)), [[y!.id, 'after the upgrade']]);
    } finally {
      await upgraded.close();
    }
  });
});
