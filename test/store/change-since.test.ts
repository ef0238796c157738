import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores, newTask } from './helpers.ts';

/** `ChangeRepo.since`: the model's catch-up read, paged by revision (its page size is written into the SQL). */
describe('sqlite store: changes since a revision', () => {
  let stores: TempStores;
  let store: Store;
  beforeEach(() => {
    stores = new TempStores();
    store = stores.open();
  });
  afterEach(() => stores.cleanup());

  it('answers nothing new with the same revision, then exactly the rows written since', () => {
    const [a, b] = store.tasks.insert([newTask(), newTask()], T0);
    const rev = store.changes.revision();
    assert.deepEqual(store.changes.since(rev), { rev, agents: [], tasks: [], intents: [], more: false });
    store.tasks.noteWaiting([{ taskId: b!.id, reason: 'no room' }]);
    const page = store.changes.since(rev);
    assert.equal(page.rev, rev + 1); // one stamped write
    assert.deepEqual(page.tasks.map((t) => [t.row.id, t.row.reason]), [[b!.id, 'no room']]);
    assert.equal(page.more, false);
    assert.notEqual(a!.id, b!.id);
  });

  it('pages by its limit: at most that many rows of a table, in revision order, then the rest', () => {
    const tasks = store.tasks.insert(Array.from({ length: 5 }, () => newTask()), T0);
    const rev = store.changes.revision();
    // Stamped in this order: the pages must follow it, not the insert order.
    const order = [3, 0, 4, 1, 2].map((i) => tasks[i]!.id);
    for (const id of order) store.tasks.noteWaiting([{ taskId: id, reason: `waits ${id}` }]);
    const first = store.changes.since(rev, 2);
    assert.deepEqual(first.tasks.map((t) => t.row.id), order.slice(0, 2));
    assert.equal(first.rev, rev + 2);
    assert.equal(first.more, true);
    const second = store.changes.since(first.rev, 2);
    assert.deepEqual(second.tasks.map((t) => t.row.id), order.slice(2, 4));
    assert.equal(second.more, true);
    const third = store.changes.since(second.rev, 2);
    assert.deepEqual(third.tasks.map((t) => t.row.id), order.slice(4));
    assert.equal(third.rev, rev + 5);
    assert.equal(third.more, false);
    // Without a limit, every row at once.
    assert.deepEqual(store.changes.since(rev).tasks.map((t) => t.row.id), order);
  });
});
