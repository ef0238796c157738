import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'mocha';
import fc from 'fast-check';
import type { TaskState } from '../../src/core/task.ts';
import type { Store, TaskCursor } from '../../src/store/store.ts';
import { T0, TempStores, newTask, privateAgent } from './helpers.ts';

// Each run opens a store of its own (~25 ms): at most 100 runs, even when CI asks for 1,000.
const RUNS = Math.min(100, Number(process.env.SPILLWAY_PROPERTY_RUNS ?? 50));
const STATES: readonly TaskState[] = ['pending', 'placed', 'cancelled'];

/**
 * The task listing pages newest first (created time, then record order) through any filter of states, reading each
 * state along its index: checked against an order the test computes from what it inserted.
 */
describe('task listing by state', () => {
  let stores: TempStores;
  let store: Store;

  beforeEach(() => {
    stores = new TempStores();
    store = stores.open();
  });
  afterEach(() => stores.cleanup());

  /** Inserts tasks with these creation offsets and end states, one at a time; returns [id, createdAtMs, state, n]. */
  function fill(specs: readonly { atMs: number; state: TaskState }[]): { id: string; createdAtMs: number; state: TaskState; n: number }[] {
    const agent = store.agents.insert(privateAgent({ capacity: { cpuMillis: 1e9, memoryMiB: 1e9, gpus: 0, netMbps: 0 } }), T0);
    return specs.map((spec, n) => {
      const [task] = store.tasks.insert([newTask()], T0 + spec.atMs);
      if (spec.state === 'placed') store.tasks.place(task!.id, agent.id, T0 + spec.atMs);
      if (spec.state === 'cancelled') store.tasks.cancel(task!.id, 'test', T0 + spec.atMs);
      return { id: task!.id, createdAtMs: T0 + spec.atMs, state: spec.state, n };
    });
  }

  /** Every page of a listing, following `next`. */
  function pages(states: readonly TaskState[] | undefined, limit: number): string[] {
    const ids: string[] = [];
    let after: TaskCursor | undefined;
    for (let guard = 0; guard < 1_000; guard++) {
      const page = store.tasks.page({ ...(states && { states }), limit, ...(after && { after }) });
      assert.ok(page.tasks.length <= limit);
      ids.push(...page.tasks.map((t) => t.id));
      if (page.next === null) return ids;
      after = page.next;
    }
    throw new Error('the listing never ended');
  }

  it('pages every task of the chosen states exactly once, newest first, ties in reverse record order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ atMs: fc.integer({ min: 0, max: 5 }), state: fc.constantFrom(...STATES) }), { maxLength: 40 }),
        fc.subarray([...STATES]),
        fc.integer({ min: 1, max: 7 }),
        (specs, states, limit) => {
          stores.cleanup();
          stores = new TempStores();
          store = stores.open();
          const tasks = fill(specs);
          const expected = tasks
            .filter((t) => states.includes(t.state))
            .sort((a, b) => b.createdAtMs - a.createdAtMs || b.n - a.n)
            .map((t) => t.id);
          assert.deepEqual(pages(states, limit), expected);
        },
      ),
      { numRuns: RUNS, seed: 13 },
    );
  });

  it('lists a state the same with a repeated state, and nothing for no state', () => {
    const tasks = fill([
      { atMs: 1, state: 'pending' },
      { atMs: 2, state: 'placed' },
      { atMs: 2, state: 'pending' },
    ]);
    assert.deepEqual(pages(['pending', 'pending'], 10), [tasks[2]!.id, tasks[0]!.id]);
    assert.deepEqual(pages([], 10), []);
    assert.deepEqual(pages(undefined, 2), [tasks[2]!.id, tasks[1]!.id, tasks[0]!.id]);
  });

  it('has the index the listing by state walks, from migration 8', () => {
    store.close();
    const db = new DatabaseSync(stores.path);
    try {
      const index = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'tasks_by_state_created'").get();
      assert.match(String(index?.['sql']), /ON tasks \(state, created_at_ms\)/);
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT rowid AS seq, * FROM tasks WHERE state = ? ORDER BY created_at_ms DESC, rowid DESC LIMIT ?",
        )
        .all('pending', 100)
        .map((r) => String(r['detail']));
      assert.deepEqual(plan, ['SEARCH tasks USING INDEX tasks_by_state_created (state=?)'], 'a walk, no sort');
    } finally {
      db.close();
      store = stores.open();
    }
  });
});
