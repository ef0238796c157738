import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { budgetAlerts } from '../../src/cost-model/budget-alerts.ts';
import { spendStatus, type BudgetSpend } from '../../src/cost-model/budget-spend.ts';
import type { Budget } from '../../src/cost-model/budget.ts';

const HOUR = 3_600_000;
/** 2026-03-14 15:42:07 UTC: its UTC hour starts at 15:00, its day at 00:00. */
const NOW = Date.UTC(2026, 2, 14, 15, 42, 7);
const HOUR_START = Date.UTC(2026, 2, 14, 15);
const DAY_START = Date.UTC(2026, 2, 14);

function budget(overrides: Partial<Budget> = {}): Budget {
  return {
    id: 'bud-1',
    name: 'gpu-team',
    scope: { kind: 'team', team: 'ml' },
    period: 'day',
    capMicros: 1_000_000,
    onCap: 'preempt',
    createdAtMs: 0,
    updatedAtMs: 0,
    ...overrides,
  };
}

function spend(b: Budget, spentMicros: number): BudgetSpend {
  return spendStatus(b, { fromMs: DAY_START, toMs: DAY_START + 24 * HOUR }, spentMicros);
}

describe('budget alerts', () => {
  it('names the budget, its scope, period, level, spend, cap and time in each alert', () => {
    const b = budget();
    const common = {
      budgetId: 'bud-1',
      budgetName: 'gpu-team',
      scope: { kind: 'team', team: 'ml' },
      period: 'day',
      periodStartMs: DAY_START,
      spentMicros: 800_000,
      capMicros: 1_000_000,
      atMs: NOW,
    };
    assert.deepEqual(budgetAlerts([spend(b, 800_000)], NOW), [
      { ...common, percent: 50 },
      { ...common, percent: 80 },
    ]);
  });

  const levels = [
    { name: 'nothing below half', spent: 499_999, want: [] },
    { name: '50 at exactly half', spent: 500_000, want: [50] },
    { name: '50 just below 80 percent', spent: 799_999, want: [50] },
    { name: '50 and 80 at exactly 80 percent', spent: 800_000, want: [50, 80] },
    { name: '50 and 80 just below the cap', spent: 999_999, want: [50, 80] },
    { name: 'all three at the cap', spent: 1_000_000, want: [50, 80, 100] },
    { name: 'all three past the cap', spent: 3_000_000, want: [50, 80, 100] },
  ];
  for (const c of levels) {
    it(`reaches ${c.name} of a $1 cap`, () => {
      assert.deepEqual(
        budgetAlerts([spend(budget(), c.spent)], NOW).map((a) => a.percent),
        c.want,
      );
    });
  }

  it('keys a burn budget’s alerts by the UTC hour and an hourly one by its hour', () => {
    const burn = budget({ period: 'burn' });
    const hourly = budget({ id: 'bud-2', period: 'hour' });
    const alerts = budgetAlerts([spend(burn, 500_000), spend(hourly, 500_000)], NOW);
    assert.deepEqual(
      alerts.map((a) => [a.budgetId, a.period, a.periodStartMs]),
      [
        ['bud-1', 'burn', HOUR_START],
        ['bud-2', 'hour', HOUR_START],
      ],
    );
  });

  it('raises every level for any spend under a zero cap, and none for no spend', () => {
    const zero = budget({ capMicros: 0 });
    assert.deepEqual(
      budgetAlerts([spend(zero, 1)], NOW).map((a) => a.percent),
      [50, 80, 100],
    );
    assert.deepEqual(budgetAlerts([spend(zero, 0)], NOW), []);
    assert.deepEqual(budgetAlerts([spend(budget(), 0)], NOW), []);
  });

  it('reports each budget on its own', () => {
    const a = budget({ id: 'bud-a', capMicros: 100 });
    const b = budget({ id: 'bud-b', capMicros: 1_000 });
    assert.deepEqual(
      budgetAlerts([spend(a, 100), spend(b, 600)], NOW).map((x) => [x.budgetId, x.percent]),
      [
        ['bud-a', 50],
        ['bud-a', 80],
        ['bud-a', 100],
        ['bud-b', 50],
      ],
    );
  });
});

describe('budget spend status', () => {
  const window = { fromMs: DAY_START, toMs: DAY_START + 24 * HOUR };
  const cases = [
    { name: 'a quarter spent', cap: 400_000, spent: 100_000, percent: 25, overrun: 0 },
    { name: 'exactly the cap', cap: 400_000, spent: 400_000, percent: 100, overrun: 0 },
    { name: 'past the cap', cap: 400_000, spent: 500_000, percent: 125, overrun: 100_000 },
    { name: 'nothing spent', cap: 400_000, spent: 0, percent: 0, overrun: 0 },
    { name: 'a zero cap with spend', cap: 0, spent: 7, percent: 100, overrun: 7 },
    { name: 'a zero cap without spend', cap: 0, spent: 0, percent: 0, overrun: 0 },
  ];
  for (const c of cases) {
    it(`reports ${c.name}`, () => {
      const b = budget({ capMicros: c.cap });
      assert.deepEqual(spendStatus(b, window, c.spent), {
        budget: b,
        window,
        spentMicros: c.spent,
        percent: c.percent,
        overrunMicros: c.overrun,
      });
    });
  }
});
