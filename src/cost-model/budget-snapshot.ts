import type { Intent, LaunchIntent, TerminateIntent } from '../core/intent.ts';
import type { TaskHeader } from '../core/task.ts';
import type { LedgerSlice } from './ledger.ts';
import type { AsyncStore } from '../store/async-store.ts';
import { budgetAlerts, type NewBudgetAlert } from './budget-alerts.ts';
import { budgetLedgerFromMs } from './budget.ts';
import type { BudgetSpend } from './budget-spend.ts';
import type { BudgetInput } from './budgets.ts';
import type { BudgetTiming } from './budget-exposure.ts';

/**
 * The two places budgets touch the store, for the controller's observe and act steps; everything between is pure.
 */

/**
 * Reads what a pass's BudgetBook decides from, as one consistent snapshot: the budgets, the ledger over their
 * windows, open launch and terminate intents and tasks placed but not yet running. With no budget set it reads nothing more.
 */
export function readBudgetInput(
  store: AsyncStore,
  nowMs: number,
  timing: BudgetTiming,
  model?: LiveState,
): Promise<BudgetInput> {
  return store.transaction(async () => {
    const budgets = await store.budgets.list();
    if (budgets.length === 0) {
      return { nowMs, budgets, ledger: { agents: [], usage: [] }, openLaunches: [], placedTasks: [], timing };
    }
    // Caught up inside this transaction, so the model's intents and tasks and the ledger are one snapshot.
    await model?.refresh();
    const open = model?.openIntents() ?? (await store.intents.open());
    return {
      nowMs,
      budgets,
      ledger: await (model ?? store.ledger).overlapping(budgetLedgerFromMs(budgets, nowMs), nowMs + 1),
      openLaunches: open.filter((i): i is LaunchIntent => i.kind === 'launch'),
      openTerminations: open.filter((i): i is TerminateIntent => i.kind === 'terminate'),
      placedTasks: model?.placed() ?? (await store.tasks.listHeaders({ states: ['placed'] })),
      timing,
    };
  });
}

/** What the controller's in-memory model (src/model/) gives a pass instead of reading intents and tasks again. */
export interface LiveState {
  /** Catches up with the store's committed changes; may settle later (awaited inside the snapshot's transaction). */
  refresh(): void | Promise<void>;
  openIntents(): readonly Intent[];
  placed(): readonly TaskHeader[];
  /** As `store.ledger.overlapping`, read incrementally. */
  overlapping(fromMs: number, toMs: number): LedgerSlice | Promise<LedgerSlice>;
}

/**
 * Records the 50, 80 and 100 percent levels the budgets' spend has reached in their current periods, and returns
 * the ones not recorded before: log each, and count it in a metric, once.
 */
export async function recordBudgetAlerts(
  store: AsyncStore,
  spends: readonly BudgetSpend[],
  nowMs: number,
): Promise<NewBudgetAlert[]> {
  const alerts = budgetAlerts(spends, nowMs);
  if (alerts.length === 0) return [];
  return store.transaction(async () => {
    const recorded: NewBudgetAlert[] = [];
    for (const alert of alerts) if (await store.budgets.recordAlert(alert)) recorded.push(alert);
    return recorded;
  });
}
