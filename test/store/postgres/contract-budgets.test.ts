import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'mocha';
import { NotFoundError } from '../../../src/core/errors.ts';
import type { NewBudgetAlert } from '../../../src/cost-model/budget-alerts.ts';
import type { BudgetSpec } from '../../../src/cost-model/budget.ts';
import { T0 } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/budgets.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */

const ML_DAILY: BudgetSpec = {
  name: 'ml-daily',
  scope: { kind: 'team', team: 'ml' },
  period: 'day',
  capMicros: 50_000_000,
  onCap: 'preempt',
};

describeEachEngine('store contract: budgets and alerts', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  it('creates a budget with a new id and audits it with the actor', async () => {
    const { budget, created } = await store.budgets.set(ML_DAILY, 'carol', T0);
    assert.equal(created, true);
    assert.match(budget.id, /^bud-[0-9a-f-]{36}$/);
    assert.deepEqual(budget, { id: budget.id, ...ML_DAILY, createdAtMs: T0, updatedAtMs: T0 });
    assert.deepEqual(await store.budgets.get(budget.id), budget);
    assert.deepEqual(await store.budgets.get('ml-daily'), budget);
    const [entry] = await store.audit.list();
    assert.deepEqual(
      [entry?.actor, entry?.action, entry?.detail],
      ['carol', 'budget.set', { before: null, after: budget }],
    );
  });

  it('replaces a budget of the same name, keeping its id and creation time, and audits before and after', async () => {
    const first = (await store.budgets.set(ML_DAILY, 'carol', T0)).budget;
    const { budget, created } = await store.budgets.set(
      { ...ML_DAILY, capMicros: 80_000_000, onCap: 'finish', period: 'burn' },
      'dave',
      T0 + 5,
    );
    assert.equal(created, false);
    assert.deepEqual(budget, { ...first, capMicros: 80_000_000, onCap: 'finish', period: 'burn', updatedAtMs: T0 + 5 });
    assert.equal((await store.budgets.list()).length, 1);
    assert.deepEqual((await store.audit.list(1))[0]?.detail, { before: first, after: budget });
  });

  it('lists budgets by name', async () => {
    for (const name of ['zeta', 'alpha', 'mid']) await store.budgets.set({ ...ML_DAILY, name }, 'carol', T0);
    assert.deepEqual(
      (await store.budgets.list()).map((b) => b.name),
      ['alpha', 'mid', 'zeta'],
    );
  });

  it('deletes by id or name and audits it; an unknown one is NotFoundError and changes nothing', async () => {
    const a = (await store.budgets.set(ML_DAILY, 'carol', T0)).budget;
    const b = (await store.budgets.set({ ...ML_DAILY, name: 'other' }, 'carol', T0)).budget;
    assert.deepEqual(await store.budgets.delete(a.id, 'dave', T0 + 1), a);
    assert.deepEqual(await store.budgets.delete('other', 'dave', T0 + 2), b);
    assert.deepEqual(await store.budgets.list(), []);
    assert.deepEqual((await store.audit.list(1))[0]?.detail, { before: b });
    assert.equal((await store.audit.list(1))[0]?.action, 'budget.delete');
    const entries = (await store.audit.list()).length;
    await assert.rejects(async () => await store.budgets.delete('ml-daily', 'dave', T0 + 3), NotFoundError);
    assert.equal((await store.audit.list()).length, entries);
  });

  it('keeps neither a budget nor its audit entry when the surrounding transaction fails', async () => {
    await assert.rejects(() =>
      store.transaction(async () => {
        await store.budgets.set(ML_DAILY, 'carol', T0);
        throw new Error('boom');
      }),
    );
    assert.deepEqual(await store.budgets.list(), []);
    assert.deepEqual(await store.audit.list(), []);
  });

  it('seeds the config’s budgets on first start only, so deleted ones stay deleted, without audit entries', async () => {
    assert.equal(
      await store.budgets.seed([ML_DAILY, { ...ML_DAILY, name: 'global', scope: { kind: 'global' } }], T0),
      2,
    );
    await store.budgets.delete('global', 'carol', T0 + 1);
    assert.equal(
      await store.budgets.seed([ML_DAILY, { ...ML_DAILY, name: 'global', scope: { kind: 'global' } }], T0 + 2),
      0,
    );
    assert.deepEqual(
      (await store.budgets.list()).map((b) => b.name),
      ['ml-daily'],
    );
    assert.deepEqual(
      (await store.audit.list()).map((e) => e.action),
      ['budget.delete'],
    );
  });

  describe('alerts', () => {
    const alert = (percent: 50 | 80 | 100, periodStartMs = T0, atMs = T0 + percent): NewBudgetAlert => ({
      budgetId: 'bud-1',
      budgetName: 'ml-daily',
      scope: { kind: 'team', team: 'ml' },
      period: 'day',
      periodStartMs,
      percent,
      spentMicros: percent * 500_000,
      capMicros: 50_000_000,
      atMs,
    });

    it('records the first alert of each budget, period and level, and says whether it was new', async () => {
      assert.equal(await store.budgets.recordAlert(alert(50)), true);
      assert.equal(await store.budgets.recordAlert(alert(50, T0, T0 + 999)), false);
      assert.equal(await store.budgets.recordAlert(alert(80)), true);
      assert.equal(await store.budgets.recordAlert(alert(50, T0 + 86_400_000)), true, 'a new period alerts again');
      const listed = await store.budgets.alerts();
      assert.deepEqual(
        listed.map((a) => [a.percent, a.periodStartMs, a.atMs]),
        [
          [50, T0 + 86_400_000, T0 + 50],
          [80, T0, T0 + 80],
          [50, T0, T0 + 50],
        ],
      );
      const { id: _id, ...first } = listed[2]!;
      assert.deepEqual(first, alert(50));
      assert.equal((await store.budgets.alerts(1)).length, 1);
    });

    it('keeps alerts after their budget is deleted', async () => {
      const { budget } = await store.budgets.set(ML_DAILY, 'carol', T0);
      await store.budgets.recordAlert({ ...alert(100), budgetId: budget.id });
      await store.budgets.delete(budget.id, 'carol', T0 + 1);
      assert.equal((await store.budgets.alerts())[0]?.budgetId, budget.id);
    });
  });
});
