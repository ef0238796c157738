import type { Micros } from '../core/money.ts';
import { attributeAgent, CLOUD_CATEGORIES, type Charge } from './attribution.ts';
import { periodWindow, scopeContains, type Budget } from './budget.ts';
import { usageByAgent, type LedgerSlice, type TimeWindow } from './ledger.ts';

/** What a budget's scope has spent in its current window. */
export interface BudgetSpend {
  readonly budget: Budget;
  /** The window spend is counted over (the calendar period, or the trailing hour for `burn`). */
  readonly window: TimeWindow;
  /** Cloud spend attributed to the scope in the window so far. */
  readonly spentMicros: Micros;
  /** spent / cap * 100; for a zero cap, 100 once anything is spent. */
  readonly percent: number;
  /** How far spend is past the cap (a `finish` budget may overrun; a `preempt` one should not). */
  readonly overrunMicros: Micros;
}

/**
 * Each budget's cloud spend in its current window by DESIGN's attribution rule (pure): what `GET /v1/budgets` shows
 * and the book starts from. `ledger` must cover the windows (see `budgetLedgerFromMs`).
 */
export function budgetSpend(budgets: readonly Budget[], ledger: LedgerSlice, nowMs: number): BudgetSpend[] {
  // Stryker disable next-line MethodExpression,ConditionalExpression,StringLiteral: private charges are never cloud
  const cloud = ledger.agents.filter((a) => a.lifecycle !== 'private');
  const usage = usageByAgent(ledger.usage);
  const charges = new Map<string, Charge[]>();
  return budgets.map((budget) => {
    const window = periodWindow(budget.period, nowMs);
    const key = `${window.fromMs}:${window.toMs}`;
    let cached = charges.get(key);
    // Stryker disable next-line ConditionalExpression: a cache of a pure result
    if (cached === undefined) {
      // Stryker disable next-line ArrayDeclaration: attributeAgent drops usage of another agent
      cached = cloud.flatMap((a) => attributeAgent(a, usage.get(a.agentId) ?? [], window, nowMs, a.pricePerHourMicros));
      // Stryker disable next-line CallExpression: a cache of a pure result
      charges.set(key, cached);
    }
    let spent = 0;
    for (const c of cached)
      if (CLOUD_CATEGORIES.has(c.category) && scopeContains(budget.scope, c.owner)) spent += c.micros;
    return spendStatus(budget, window, spent);
  });
}

/** A budget's spend, percent of its cap and overrun. */
export function spendStatus(budget: Budget, window: TimeWindow, spentMicros: Micros): BudgetSpend {
  const cap = budget.capMicros;
  return {
    budget,
    window,
    spentMicros,
    percent: cap > 0 ? (spentMicros * 100) / cap : spentMicros > 0 ? 100 : 0,
    overrunMicros: Math.max(0, spentMicros - cap),
  };
}
