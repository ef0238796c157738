import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { readBudgetInput, recordBudgetAlerts } from '../../src/cost-model/budget-snapshot.ts';
import { openBudgetBook } from '../../src/cost-model/budgets.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { T0, TempStores, addAgent, launchIntent, newTask, offering } from '../store/helpers.ts';

const TIMING = { passIntervalMs: 1_000, terminationAllowanceMs: 30_000, launchAllowanceMs: 60_000 };
const ML = { team: 'ml', project: 'vision', job: 'train' };

describe('budgets read from and recorded to the store', () => {
  let temp: TempStores;
  let store: SqliteStore;
  /** What the controller reads budgets through: the asynchronous port over `store`. */
  let asyncStore: AsyncStore;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open() as SqliteStore;
    asyncStore = asyncSqliteStore(store);
  });
  afterEach(() => temp.cleanup());

  it('reads nothing but the budgets while none is set', async () => {
    store.intents.insert(launchIntent());
    const input = await readBudgetInput(asyncStore, T0, TIMING);
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
    const input = await readBudgetInput(asyncStore, nowMs, TIMING);
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
      (await recordBudgetAlerts(asyncStore, spends, nowMs)).map((a) => a.percent),
      [50, 80, 100],
    );
    assert.deepEqual(await recordBudgetAlerts(asyncStore, spends, nowMs + 1), [], 'each level once per period');
    assert.equal(store.budgets.alerts().length, 3);
  });

  it('reads one snapshot: a launch confirmed while it reads is either open or in the ledger, never both', async () => {
    store.budgets.set(
      { name: 'ml', scope: { kind: 'team', team: 'ml' }, period: 'day', capMicros: 100_000, onCap: 'preempt' },
      'carol',
      T0,
    );
    const launched = launchIntent({ offering: offering(), count: 1, owners: [{ owner: ML, share: 1 }] });
    store.intents.insert(launched);
    const nowMs = T0 + 1_000;
    // The act step of a pass (another caller: outside the read's async context) confirms the launch right after the
    // read took the open intents and before it reads the ledger.
    const outside = AsyncLocalStorage.snapshot();
    let confirmed: Promise<void> | undefined;
    const spied: AsyncStore = {
      ...asyncStore,
      intents: {
        ...asyncStore.intents,
        open: async () => {
          const open = await asyncStore.intents.open();
          confirmed = outside(() => asyncStore.intents.completeLaunch(launched.id, ['i-1'], nowMs));
          return open;
        },
      },
    };
    const input = await readBudgetInput(spied, nowMs, TIMING);
    await confirmed;
    const open = input.openLaunches.filter((i) => i.id === launched.id).length;
    const billed = input.ledger.agents.filter((a) => a.instanceId === 'i-1').length;
    assert.equal(open + billed, 1, `open ${open} times, in the ledger ${billed} times`);
    assert.equal(store.intents.get(launched.id)?.state, 'done', 'the confirmation landed after the read');
  });

  it('records a pass’s alerts in one transaction: when the last cannot be written, none is', async () => {
    store.budgets.set(
      { name: 'ml', scope: { kind: 'team', team: 'ml' }, period: 'day', capMicros: 100_000, onCap: 'preempt' },
      'carol',
      T0,
    );
    // An hour of an ml agent at $0.1008/h: 100,800 micro-USD, past all three levels of the $0.10 cap.
    const launched = launchIntent({ offering: offering(), count: 1, owners: [{ owner: ML, share: 1 }] });
    store.intents.insert(launched);
    store.intents.completeLaunch(launched.id, ['i-1'], T0);
    const nowMs = T0 + 3_600_000;
    const spends = openBudgetBook(await readBudgetInput(asyncStore, nowMs, TIMING)).statuses();
    // SQLite itself refuses the 100 % alert, the last of the three written.
    const db = new DatabaseSync(temp.path);
    db.exec(`CREATE TRIGGER planted_failure BEFORE INSERT ON budget_alerts WHEN NEW.percent = 100
             BEGIN SELECT RAISE(ABORT, 'planted failure'); END`);
    await assert.rejects(recordBudgetAlerts(asyncStore, spends, nowMs), /planted failure/);
    assert.deepEqual(store.budgets.alerts(), [], 'neither the 50 % nor the 80 % alert was kept');
    db.exec('DROP TRIGGER planted_failure');
    db.close();
    assert.deepEqual(
      (await recordBudgetAlerts(asyncStore, spends, nowMs)).map((a) => a.percent),
      [50, 80, 100],
      'the next pass records and reports all three',
    );
  });
});
