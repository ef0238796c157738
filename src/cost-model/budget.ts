import { formatUsd, type Micros } from '../core/money.ts';
import type { Owner } from '../core/owner.ts';
import type { TimeWindow } from './ledger.ts';

/**
 * Finance's caps on cloud spend (DESIGN sections 1 and 4). A scope's spend is what attribution gives its owners:
 * global contains every team, a team contains its projects.
 */
export type BudgetScope =
  | { readonly kind: 'global' }
  | { readonly kind: 'team'; readonly team: string }
  /** A project name is unique within its team; without `team` it matches that project name in every team. */
  | { readonly kind: 'project'; readonly team?: string; readonly project: string };

/**
 * The period a cap applies to: a calendar hour, day or month in UTC, or `burn`: a burn-rate cap, in USD per hour,
 * held over every trailing 60 minutes (so a burn cap, too, counts minimum bills and what is committed).
 */
export const BudgetPeriod = { hour: 'hour', day: 'day', month: 'month', burn: 'burn' } as const;
export type BudgetPeriod = (typeof BudgetPeriod)[keyof typeof BudgetPeriod];

/**
 * What happens at the cap. `preempt` (the default, a hard cap): the scope's cloud work is stopped early enough that
 * the cap is never passed, its tasks returned to pending. `finish` (a soft cap): nothing new is launched or placed
 * for the scope, running work finishes, and any overrun is reported.
 */
export const OnCap = { preempt: 'preempt', finish: 'finish' } as const;
export type OnCap = (typeof OnCap)[keyof typeof OnCap];

/** A budget as set through the API, the CLI or the config's seed. */
export interface BudgetSpec {
  /** Unique; how people name it (`spillway budget set NAME`). */
  readonly name: string;
  readonly scope: BudgetScope;
  readonly period: BudgetPeriod;
  /** Per period; for `burn`, per hour. */
  readonly capMicros: Micros;
  readonly onCap: OnCap;
}

export interface Budget extends BudgetSpec {
  /** Stable across changes of the budget (`bud-…`); alerts and the audit log refer to it. */
  readonly id: string;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Whether an owner's spend counts against a scope. */
export function scopeContains(scope: BudgetScope, owner: Owner): boolean {
  switch (scope.kind) {
    case 'global':
      return true;
    case 'team':
      return owner.team === scope.team;
    case 'project':
      return owner.project === scope.project && (scope.team === undefined || owner.team === scope.team);
  }
}

/** `global`, `team ml`, `project ml/vision`, `project vision`. */
export function describeScope(scope: BudgetScope): string {
  switch (scope.kind) {
    case 'global':
      return 'global';
    case 'team':
      return `team ${scope.team}`;
    case 'project':
      return `project ${scope.team === undefined ? '' : `${scope.team}/`}${scope.project}`;
  }
}

/** `$50.00 per day`, `$12.00 per hour of burn`. */
export function describeCap(budget: Pick<BudgetSpec, 'capMicros' | 'period'>): string {
  const cap = formatUsd(budget.capMicros);
  return budget.period === 'burn' ? `${cap}/h burn rate` : `${cap} per ${budget.period}`;
}

/**
 * The window a budget's spend is counted over at `nowMs`: the calendar hour, day or month (UTC) that holds `nowMs`,
 * or for `burn` the trailing hour [nowMs - 1 h, nowMs).
 */
export function periodWindow(period: BudgetPeriod, nowMs: number): TimeWindow {
  switch (period) {
    case 'hour': {
      const fromMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
      return { fromMs, toMs: fromMs + HOUR_MS };
    }
    case 'day': {
      const fromMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
      return { fromMs, toMs: fromMs + DAY_MS };
    }
    case 'month': {
      const at = new Date(nowMs);
      const fromMs = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
      return { fromMs, toMs: Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1) };
    }
    case 'burn':
      return { fromMs: nowMs - HOUR_MS, toMs: nowMs };
  }
}

/**
 * The key alerts of one period are recorded under: the period's start, and for `burn` the start of the UTC hour, so
 * a burn alert fires at most once an hour per level.
 */
export function alertPeriodStartMs(period: BudgetPeriod, nowMs: number): number {
  return periodWindow(period === 'burn' ? 'hour' : period, nowMs).fromMs;
}

/**
 * From when the ledger must be read to evaluate `budgets` at `nowMs`: the earliest start of their windows. Read
 * `store.ledger.overlapping(budgetLedgerFromMs(budgets, nowMs), nowMs + 1)`.
 */
export function budgetLedgerFromMs(budgets: readonly Pick<BudgetSpec, 'period'>[], nowMs: number): number {
  let fromMs = nowMs;
  for (const budget of budgets) fromMs = Math.min(fromMs, periodWindow(budget.period, nowMs).fromMs);
  return fromMs;
}
