import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { readBudgetInput, recordBudgetAlerts } from '../../src/cost-model/budget-snapshot.ts';
import { openBudgetBook } from '../../src/cost-model/budgets.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores, addAgent, launchIntent, newTask, offering } from '../store/helpers.ts';
import { asyncOf } from '../helpers/async-store.ts';

const TIMING = { passIntervalMs: 1_000, terminationAllowanceMs: 30_000, launchAllowanceMs: 60_000 };
const ML = { team: 'ml', project: 'vision', job: 'train' };

describe('budgets read from and recorded to the store', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  it('reads nothing but the budgets while none is set', async () => {
    store.intents.insert(launchIntent());
    const input = await readBudgetInput(asyncOf(store), T0, TIMING);
    assert.deepEqual(
      [input.budgets, input.ledger, input.openLaunches, input.placedTasks],
      [[], { agents: [], usage: [] }, [], []],
    );
  });

  it('reads the ledger over the budgets’ windows, open launches and placed tasks, and alerts once per level', async () => {
    store.budgets.set(
      { name: 'ml', scope: { kind: 'team', team: 'ml' }, period: 'day', capMicros: 100_000, onCap: 'preempt' },
      'carol',
      T0,
    );
    // An hour of an ml agent at $0.1008/h: 100,800 micro-USD, just past the cap.
    const launched = launchIntent({ offering: offering(), count: 1, owners: [{ owner: ML, share: 1 }] });
    store.intents.insert(launched);
    store.intents.completeLaunch(launched.id, ['i-1'], T0);
    const pending = launchIntent({ createdAtMs: T0 + 3_500_000 });
    store.intents.insert(pending);
    const rack = addAgent(store);
    const [task] = store.tasks.insert([newTask()], T0);
    store.tasks.place(task!.id, rack.id, T0);

    const nowMs = T0 + 3_600_000;
    const input = await readBudgetInput(asyncOf(store), nowMs, TIMING);
    assert.equal(input.ledger.agents.length, 2);
    assert.deepEqual(
      input.openLaunches.map((i) => i.id),
      [pending.id],
    );
    assert.deepEqual(
      input.placedTasks?.map((t) => t.id),
      [task!.id],
    );

    const spends = openBudgetBook(input).statuses();
    assert.equal(spends[0]?.spentMicros, 100_800);
    assert.deepEqual(
      (await recordBudgetAlerts(asyncOf(store), spends, nowMs)).map((a) => a.percent),
      [50, 80, 100],
    );
    assert.deepEqual(await recordBudgetAlerts(asyncOf(store), spends, nowMs + 1), [], 'each level once per period');
    assert.equal(store.budgets.alerts().length, 3);
  });
});
