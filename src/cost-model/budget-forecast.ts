import type { Micros } from '../core/money.ts';
import type { Budget } from './budget.ts';
import { budgetSpend } from './budget-spend.ts';
import type { LedgerSlice, TimeWindow } from './ledger.ts';

const HOUR_MS = 3_600_000;
/** At most this many points of spend through the period. */
export const FORECAST_SERIES_POINTS = 48;

/** A budget's spend so far in its current period and where it is heading (pure). */
export interface BudgetForecast {
  readonly budget: Budget;
  readonly window: TimeWindow;
  readonly spentMicros: Micros;
  /** Spend per hour over the last hour of the period so far (the whole period so far, when it is younger). */
  readonly ratePerHourMicros: Micros;
  /** `spentMicros` plus that rate until the period's end; for `burn` budgets, `spentMicros` (its trailing hour). */
  readonly forecastMicros: Micros;
  /** Cumulative spend through the period, evenly spaced from its start to now. */
  readonly series: readonly { readonly atMs: number; readonly spentMicros: Micros }[];
}

/**
 * Each budget's forecast to the end of its current period: a linear run-rate (what the last hour cost, carried on),
 * which is what finance asks first ("at this pace, where do we end?"). The ledger must cover the periods (see
 * `budgetLedgerFromMs`). Spend at an earlier instant is read from the ledger as it stood then, so a machine that
 * stopped later does not count its later hours early.
 */
export function budgetForecasts(budgets: readonly Budget[], ledger: LedgerSlice, nowMs: number): BudgetForecast[] {
  const steps = budgetForecastSteps(budgets, ledger, nowMs);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * `budgetForecasts` in steps: it yields after each point of spend it reads (each a pass over the whole ledger, so a
 * large ledger makes the 48 points of a budget long work), letting an async caller serve other requests between them,
 * and returns the forecasts.
 */
export function* budgetForecastSteps(
  budgets: readonly Budget[],
  ledger: LedgerSlice,
  nowMs: number,
): Generator<void, BudgetForecast[], void> {
  // Budgets of one period read the same instants: each instant's ledger is attributed once for all of them.
  const spentThen = new Map<string, Map<Budget, Micros>>();
  const spentAt = (budget: Budget, tMs: number): Micros => {
    const key = `${budget.period}:${tMs}`;
    let spent = spentThen.get(key);
    if (spent === undefined) {
      const alike = budgets.filter((b) => b.period === budget.period);
      const statuses = budgetSpend(alike, ledgerAsOf(ledger, tMs), tMs);
      spentThen.set(key, (spent = new Map(statuses.map((s) => [s.budget, s.spentMicros]))));
    }
    return spent.get(budget) ?? 0;
  };
  const forecasts: BudgetForecast[] = [];
  for (const { budget, window, spentMicros } of budgetSpend(budgets, ledger, nowMs)) {
    if (budget.period === 'burn') {
      forecasts.push({
        budget,
        window,
        spentMicros,
        ratePerHourMicros: spentMicros,
        forecastMicros: spentMicros,
        series: [],
      });
      continue;
    }
    const rateFromMs = Math.max(window.fromMs, nowMs - HOUR_MS);
    const elapsedMs = nowMs - rateFromMs;
    const ratePerHourMicros =
      elapsedMs > 0 ? Math.round(((spentMicros - spentAt(budget, rateFromMs)) * HOUR_MS) / elapsedMs) : 0;
    yield;
    const forecastMicros = spentMicros + Math.round((ratePerHourMicros * (window.toMs - nowMs)) / HOUR_MS);
    const series: { atMs: number; spentMicros: Micros }[] = [];
    for (let i = 0; i < FORECAST_SERIES_POINTS; i += 1) {
      const atMs = Math.round(window.fromMs + ((nowMs - window.fromMs) * i) / (FORECAST_SERIES_POINTS - 1));
      if (series.at(-1)?.atMs === atMs) continue;
      series.push({ atMs, spentMicros: atMs === nowMs ? spentMicros : spentAt(budget, atMs) });
      yield;
    }
    forecasts.push({ budget, window, spentMicros, ratePerHourMicros, forecastMicros, series });
  }
  return forecasts;
}

/** The ledger as it stood at `tMs`: what had not started is left out, what ended later is still open. */
export function ledgerAsOf(ledger: LedgerSlice, tMs: number): LedgerSlice {
  return {
    agents: ledger.agents
      .filter((a) => a.startMs < tMs)
      .map((a) => (a.endMs !== null && a.endMs > tMs ? { ...a, endMs: null } : a)),
    usage: ledger.usage
      .filter((u) => u.startMs < tMs)
      .map((u) => (u.endMs !== null && u.endMs > tMs ? { ...u, endMs: null } : u)),
  };
}
