import type { Micros } from '../core/money.ts';
import { alertPeriodStartMs, type BudgetPeriod, type BudgetScope } from './budget.ts';
import type { BudgetSpend } from './budget-spend.ts';

/** The spend levels, in percent of the cap, that raise an alert once per period. */
export const ALERT_PERCENTS = [50, 80, 100] as const;
export type AlertPercent = (typeof ALERT_PERCENTS)[number];

/** A level a budget's spend reached in one period. The store keeps one per budget, period and level. */
export interface NewBudgetAlert {
  readonly budgetId: string;
  readonly budgetName: string;
  readonly scope: BudgetScope;
  readonly period: BudgetPeriod;
  /** The period's start (for `burn`, the UTC hour's): alerts repeat once per period. */
  readonly periodStartMs: number;
  readonly percent: AlertPercent;
  readonly spentMicros: Micros;
  readonly capMicros: Micros;
  readonly atMs: number;
}

export interface BudgetAlert extends NewBudgetAlert {
  readonly id: number;
}

/**
 * Every level each budget's spend has reached in its current period (pure). Record them with
 * `store.budgets.recordAlert`, which keeps the first of each budget, period and level and says whether this one was
 * new: log and count only the new ones. Nothing is reached while nothing is spent.
 */
export function budgetAlerts(statuses: readonly BudgetSpend[], nowMs: number): NewBudgetAlert[] {
  const alerts: NewBudgetAlert[] = [];
  for (const status of statuses) {
    const { budget, spentMicros } = status;
    if (spentMicros <= 0) continue;
    for (const percent of ALERT_PERCENTS) {
      if (spentMicros * 100 < percent * budget.capMicros) continue;
      alerts.push({
        budgetId: budget.id,
        budgetName: budget.name,
        scope: budget.scope,
        period: budget.period,
        periodStartMs: alertPeriodStartMs(budget.period, nowMs),
        percent,
        spentMicros,
        capMicros: budget.capMicros,
        atMs: nowMs,
      });
    }
  }
  return alerts;
}
