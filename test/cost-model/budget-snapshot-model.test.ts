import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { Intent } from '../../src/core/intent.ts';
import type { TaskHeader } from '../../src/core/task.ts';
import { readBudgetInput, recordBudgetAlerts, type LiveState } from '../../src/cost-model/budget-snapshot.ts';
import { budgetSpend } from '../../src/cost-model/budget-spend.ts';
import type { LedgerSlice } from '../../src/cost-model/ledger.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { T0, TempStores, addAgent, launchIntent, newTask, offering, terminateIntent } from '../store/helpers.ts';

// readBudgetInput given the controller's in-memory model (LiveState): the intents, placed tasks and ledger come from
// the model, caught up first, not from the store. The model here is a second real store with different contents, so
// every answer tells which of the two it came from.
const TIMING = { passIntervalMs: 1_000, terminationAllowanceMs: 30_000, launchAllowanceMs: 60_000 };
const ML = { team: 'ml', project: 'vision', job: 'train' };
const DAY = 86_400_000;

describe('the budget snapshot read through the controller’s model', () => {
  let temp: TempStores;
  /** What the controller reads budgets through. */
  let store: SqliteStore;
  let asyncStore: AsyncStore;
  /** What the model has caught up with: not what `store` holds. */
  let modelStore: SqliteStore;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open() as SqliteStore;
    asyncStore = asyncSqliteStore(store);
    modelStore = temp.open({ path: join(temp.dir, 'model.db') }) as SqliteStore;
  });
  afterEach(() => temp.cleanup());

  /** A model over `modelStore` that records its calls, and is caught up only once `refresh` has settled. */
  function model(): { live: LiveState; calls: string[] } {
    const calls: string[] = [];
    let caughtUp = false;
    const live: LiveState = {
      refresh: async () => {
        calls.push('refresh');
        await Promise.resolve();
        caughtUp = true;
      },
      openIntents: (): readonly Intent[] => {
        calls.push(caughtUp ? 'openIntents' : 'openIntents before refresh settled');
        return modelStore.intents.open();
      },
      placed: (): readonly TaskHeader[] => {
        calls.push(caughtUp ? 'placed' : 'placed before refresh settled');
        return modelStore.tasks.listHeaders({ states: ['placed'] });
      },
      overlapping: async (fromMs: number, toMs: number): Promise<LedgerSlice> => {
        calls.push(`overlapping ${fromMs - T0} ${toMs - T0}`);
        return modelStore.ledger.overlapping(fromMs, toMs);
      },
    };
    return { live, calls };
  }

  it('takes open intents, placed tasks and the ledger from the model, once it is caught up', async () => {
    store.budgets.set(
      { name: 'ml', scope: { kind: 'team', team: 'ml' }, period: 'day', capMicros: 100_000, onCap: 'preempt' },
      'carol',
      T0,
    );
    // The store: a launch, a termination and a placed task the model does not show.
    store.intents.insert(launchIntent());
    store.intents.insert(terminateIntent({ instanceIds: ['i-store'] }));
    const storeRack = addAgent(store);
    const [storeTask] = store.tasks.insert([newTask()], T0);
    store.tasks.place(storeTask!.id, storeRack.id, T0);

    // The model: an ml agent running since T0 (in its ledger), another open launch and termination, a placed task.
    const ran = launchIntent({ offering: offering(), count: 1, owners: [{ owner: ML, share: 1 }] });
    modelStore.intents.insert(ran);
    modelStore.intents.completeLaunch(ran.id, ['i-model'], T0);
    const pending = launchIntent({ createdAtMs: T0 + 1_000 });
    modelStore.intents.insert(pending);
    const terminating = terminateIntent({ instanceIds: ['i-model'] });
    modelStore.intents.insert(terminating);
    const rack = addAgent(modelStore);
    const [task] = modelStore.tasks.insert([newTask()], T0);
    modelStore.tasks.place(task!.id, rack.id, T0);

    const nowMs = T0 + 3_600_000;
    const { live, calls } = model();
    const input = await readBudgetInput(asyncStore, nowMs, TIMING, live);

    assert.deepEqual(
      input.openLaunches.map((i) => i.id),
      [pending.id],
    );
    assert.deepEqual(
      input.openTerminations?.map((i) => i.id),
      [terminating.id],
    );
    assert.deepEqual(
      input.placedTasks?.map((t) => t.id),
      [task!.id],
    );
    // The model's ledger: its ml agent and its private rack.
    assert.deepEqual(input.ledger.agents.map((a) => [a.lifecycle, a.instanceId]).sort(), [
      ['on-demand', 'i-model'],
      ['private', null],
    ]);
    // The day budget's window starts at T0 (midnight UTC); the ledger is read to one past now.
    assert.deepEqual(calls, ['refresh', 'openIntents', `overlapping 0 ${3_600_000 + 1}`, 'placed']);
    // An hour of the model's agent at $0.1008/h: 100,800 micro-USD for ml.
    assert.equal(budgetSpend(input.budgets, input.ledger, nowMs)[0]?.spentMicros, 100_800);
  });

  it('asks the model nothing while no budget is set', async () => {
    modelStore.intents.insert(launchIntent());
    const { live, calls } = model();
    const input = await readBudgetInput(asyncStore, T0 + DAY / 2, TIMING, live);
    assert.deepEqual(
      [input.budgets, input.ledger, input.openLaunches, input.placedTasks],
      [[], { agents: [], usage: [] }, [], []],
    );
    assert.deepEqual(calls, []);
  });
});

describe('recording budget alerts', () => {
  let temp: TempStores;
  let store: SqliteStore;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open() as SqliteStore;
  });
  afterEach(() => temp.cleanup());

  it('opens no transaction when no level is reached', async () => {
    const base = asyncSqliteStore(store);
    let transactions = 0;
    const counting: AsyncStore = {
      ...base,
      transaction: (fn) => {
        transactions++;
        return base.transaction(fn);
      },
    };
    store.budgets.set(
      { name: 'ml', scope: { kind: 'team', team: 'ml' }, period: 'day', capMicros: 100_000, onCap: 'preempt' },
      'carol',
      T0,
    );
    const [ml] = store.budgets.list();
    // 49,999 of a 100,000 cap: under the first level (50 %).
    const under = {
      budget: ml!,
      window: { fromMs: T0, toMs: T0 + DAY },
      spentMicros: 49_999,
      percent: 49.999,
      overrunMicros: 0,
    };
    assert.deepEqual(await recordBudgetAlerts(counting, [under], T0 + 1_000), []);
    assert.equal(
      transactions,
      0,
      'nothing to record: no transaction (a fenced view would check the lease for nothing)',
    );
    const half = { ...under, spentMicros: 50_000, percent: 50 };
    assert.deepEqual(
      (await recordBudgetAlerts(counting, [half], T0 + 1_000)).map((a) => a.percent),
      [50],
    );
    assert.equal(transactions, 1);
  });
});
