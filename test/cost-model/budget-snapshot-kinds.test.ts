import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { readBudgetInput, recordBudgetAlerts } from '../../src/cost-model/budget-snapshot.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { T0, TempStores, addAgent, launchIntent, newTask, offering, terminateIntent } from '../store/helpers.ts';

const TIMING = { passIntervalMs: 1_000, terminationAllowanceMs: 30_000, launchAllowanceMs: 60_000 };
const ML = { team: 'ml', project: 'vision', job: 'train' };

describe('the budget snapshot sorts what it reads', () => {
  let temp: TempStores;
  let store: SqliteStore;
  /** What the controller reads budgets through: the asynchronous port over `store`. */
  let asyncStore: AsyncStore;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open() as SqliteStore;
    asyncStore = asyncSqliteStore(store);
    store.budgets.set(
      { name: 'ml', scope: { kind: 'team', team: 'ml' }, period: 'day', capMicros: 100_000, onCap: 'preempt' },
      'carol',
      T0,
    );
  });
  afterEach(() => temp.cleanup());

  it('puts open launches and open terminations apart, and takes placed tasks only', async () => {
    const launch = launchIntent({ offering: offering(), count: 1, owners: [{ owner: ML, share: 1 }] });
    const terminate = terminateIntent({ instanceIds: ['i-9'] });
    store.intents.insert(launch);
    store.intents.insert(terminate);
    const rack = addAgent(store);
    const [placed, waiting] = store.tasks.insert([newTask(), newTask()], T0);
    store.tasks.place(placed!.id, rack.id, T0);

    const input = await readBudgetInput(asyncStore, T0 + 1_000, TIMING);
    assert.deepEqual(
      input.openLaunches.map((i) => [i.kind, i.id]),
      [['launch', launch.id]],
    );
    assert.deepEqual(
      input.openTerminations?.map((i) => [i.kind, i.id]),
      [['terminate', terminate.id]],
    );
    assert.deepEqual(
      input.placedTasks?.map((t) => t.id),
      [placed!.id],
    );
    assert.ok(waiting, 'the pending task exists and is left out');
  });

  it('reads an agent that started this very millisecond into the ledger', async () => {
    const nowMs = T0 + 5_000;
    const launch = launchIntent({ offering: offering(), count: 1, owners: [{ owner: ML, share: 1 }] });
    store.intents.insert(launch);
    store.intents.completeLaunch(launch.id, ['i-now'], nowMs);
    const input = await readBudgetInput(asyncStore, nowMs, TIMING);
    assert.deepEqual(
      input.ledger.agents.map((a) => a.instanceId),
      ['i-now'],
    );
  });

  it('records nothing and returns nothing when no level is reached', async () => {
    assert.deepEqual(await recordBudgetAlerts(asyncStore, [], T0), []);
  });
});
