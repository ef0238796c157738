import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import { ClusterModel } from '../../src/model/cluster-model.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewTask } from '../../src/store/store.ts';

const NOW = Date.UTC(2026, 11, 6);

function newTask(job: string): NewTask {
  return {
    owner: { team: 't', project: 'p', job },
    resources: resources({ cpuMillis: 500, memoryMiB: 512 }),
    priority: 0,
    revocable: false,
    constraints: {},
    command: ['true'],
  };
}

/**
 * The model's change feed on SQLite's one connection: a read made while another caller's asynchronous transaction is
 * open (between its awaits) must not see that transaction's rows, which a rollback may still undo.
 */
describe('cluster model: the change feed and open transactions', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-model-feed-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never holds a task an open transaction wrote and then rolled back, though it caught up meanwhile', async () => {
    const port = asyncSqliteStore(store);
    const model = new ClusterModel(port);
    await model.load();
    const events: string[] = [];
    // Another caller (a timer, a request): started from outside the transaction once it has written.
    const written = Promise.withResolvers<void>();
    const catchingUp = written.promise
      .then(() => model.refresh())
      .then(() => {
        events.push('caught up');
      });
    const rolledBack = port.transaction(async () => {
      const [task] = await port.tasks.insert([newTask('doomed')], NOW);
      // The task is visible on the connection now (uncommitted); the model catches up from outside the transaction.
      assert.equal(store.tasks.get(task!.id)?.state, 'pending', 'the write is there, uncommitted');
      written.resolve();
      for (let i = 0; i < 5; i++) await nextTurn();
      events.push('rolling back');
      assert.deepEqual(model.pending(), [], 'the model has not read the uncommitted task');
      throw new Error('rolled back on purpose');
    });
    await assert.rejects(rolledBack, /rolled back on purpose/);
    await catchingUp;
    assert.deepEqual(events, ['rolling back', 'caught up'], 'the catch-up waited for the transaction to end');
    assert.deepEqual(model.pending(), [], 'no task after the rollback');
    assert.deepEqual(model.view().tasks, []);
    assert.equal(store.tasks.countByState().pending, 0, 'the store holds none either');
  });

  it('holds the task of a transaction that committed while it waited, once caught up', async () => {
    const port = asyncSqliteStore(store);
    const model = new ClusterModel(port);
    await model.load();
    const written = Promise.withResolvers<void>();
    const catchingUp = written.promise.then(() => model.refresh());
    let id = '';
    await port.transaction(async () => {
      const [task] = await port.tasks.insert([newTask('kept')], NOW);
      id = task!.id;
      written.resolve();
      for (let i = 0; i < 5; i++) await nextTurn();
      assert.equal(model.task(id), undefined, 'not before the commit');
    });
    await catchingUp;
    assert.deepEqual(
      model.pending().map((t) => t.id),
      [id],
    );
  });

  it('reads its own transaction\'s writes when it catches up inside it (the budgets read the model that way)', async () => {
    const port = asyncSqliteStore(store);
    const model = new ClusterModel(port);
    await model.load();
    await port.transaction(async () => {
      const [task] = await port.tasks.insert([newTask('own')], NOW);
      await model.refresh();
      assert.equal(model.task(task!.id)?.state, 'pending');
    });
  });

  it('is one port per store: a second wrapper of the same store shares the gate', () => {
    assert.equal(asyncSqliteStore(store), asyncSqliteStore(store));
  });
});

describe('async SQLite store: transactions of several callers', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-async-store-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the transactions of callers that waited for the same one after one another, each whole', async () => {
    const port = asyncSqliteStore(store);
    const order: string[] = [];
    const first = port.transaction(async () => {
      order.push('first begins');
      for (let i = 0; i < 3; i++) await nextTurn();
      order.push('first ends');
    });
    // Both wait for the first; woken by its commit together, they must still not overlap.
    const others = ['second', 'third'].map((name) =>
      port.transaction(async () => {
        order.push(`${name} begins`);
        await port.tasks.insert([newTask(name)], NOW);
        for (let i = 0; i < 3; i++) await nextTurn();
        order.push(`${name} ends`);
      }),
    );
    await Promise.all([first, ...others]);
    assert.deepEqual(order, ['first begins', 'first ends', 'second begins', 'second ends', 'third begins', 'third ends']);
    assert.equal(store.tasks.countByState().pending, 2);
  });
});
