import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { ConflictError, SpillwayError } from '../../src/core/errors.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores, addAgent, newTask } from './helpers.ts';

describe('sqlite store: transactions', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  const taskCount = (s: Store = store): number => s.tasks.list().length;

  it('commits the callback writes and returns its value', () => {
    const ids = store.transaction(() => store.tasks.insert([newTask(), newTask()], T0).map((t) => t.id));
    assert.equal(ids.length, 2);
    assert.equal(taskCount(temp.open()), 2);
  });

  it('rolls back every write and rethrows when the callback throws', () => {
    const boom = new Error('boom');
    assert.throws(
      () =>
        store.transaction(() => {
          store.tasks.insert([newTask()], T0);
          addAgent(store);
          throw boom;
        }),
      (err: unknown) => err === boom,
    );
    assert.equal(taskCount(), 0);
    assert.equal(store.agents.list().length, 0);
  });

  it('joins nested calls to the outer transaction, so an outer failure undoes them', () => {
    assert.throws(() =>
      store.transaction(() => {
        store.transaction(() => store.tasks.insert([newTask()], T0));
        throw new Error('outer fails');
      }),
    );
    assert.equal(taskCount(), 0);
  });

  it('undoes only the writes of a nested call that throws when the outer call goes on', () => {
    store.transaction(() => {
      store.tasks.insert([newTask()], T0);
      assert.throws(() =>
        store.transaction(() => {
          store.tasks.insert([newTask()], T0);
          throw new Error('inner fails');
        }),
      );
    });
    assert.equal(taskCount(), 1);
  });

  it('changes nothing when a repository call refuses inside an outer transaction', () => {
    const agent = addAgent(store, { state: 'draining' });
    const [task] = store.tasks.insert([newTask()], T0);
    store.transaction(() => {
      assert.throws(() => store.tasks.place(task!.id, agent.id, T0), ConflictError);
      store.tasks.insert([newTask()], T0);
    });
    assert.equal(store.tasks.get(task!.id)!.state, 'pending');
    assert.equal(taskCount(), 2);
  });

  it('refuses an async callback and rolls back what it wrote before its first await', () => {
    const attempt = (): unknown =>
      store.transaction(async () => {
        store.tasks.insert([newTask()], T0);
        await Promise.resolve();
      });
    assert.throws(attempt, (err: unknown) => err instanceof SpillwayError && /synchronous/.test(err.message));
    assert.equal(taskCount(), 0);
  });

  it('hides uncommitted writes from another handle on the same file', () => {
    const reader = temp.open();
    store.transaction(() => {
      store.tasks.insert([newTask()], T0);
      assert.equal(taskCount(reader), 0);
    });
    assert.equal(taskCount(reader), 1);
  });

  it("makes another handle's write wait for the write lock, then fail retryably when it is not freed", () => {
    const writer = temp.open({ busyTimeoutMs: 50 });
    const blocked = temp.open({ busyTimeoutMs: 50 });
    writer.transaction(() => {
      writer.tasks.insert([newTask()], T0);
      assert.throws(
        () => blocked.tasks.insert([newTask()], T0),
        (err: unknown) => err instanceof SpillwayError && err.retryable && /write lock/.test(err.message),
      );
    });
    blocked.tasks.insert([newTask()], T0);
    assert.equal(taskCount(), 2);
  });

  it('can be used again after a rollback', () => {
    assert.throws(() =>
      store.transaction(() => {
        throw new Error('first');
      }),
    );
    store.transaction(() => store.tasks.insert([newTask()], T0));
    assert.equal(taskCount(), 1);
  });
});
