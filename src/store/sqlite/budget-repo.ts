import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../core/errors.ts';
import type { AlertPercent, BudgetAlert, NewBudgetAlert } from '../../cost-model/budget-alerts.ts';
import type { Budget, BudgetPeriod, BudgetScope, BudgetSpec, OnCap } from '../../cost-model/budget.ts';
import type { BudgetRepo } from '../store.ts';
import type { SqliteAuditRepo } from './audit-repo.ts';
import { int, json, text } from './rows.ts';
import type { Row, SqliteDb } from './sqlite-db.ts';

/** The meta key set once the config's budgets were seeded. */
const SEEDED = 'budgets_seeded';

/** Finance's budgets (audited like the policy) and the alerts they raised. */
export class SqliteBudgetRepo implements BudgetRepo {
  readonly #db: SqliteDb;
  readonly #audit: SqliteAuditRepo;

  constructor(db: SqliteDb, audit: SqliteAuditRepo) {
    this.#db = db;
    this.#audit = audit;
  }

  list(): Budget[] {
    return this.#db.all('SELECT * FROM budgets ORDER BY name').map(toBudget);
  }

  /** An id wins over a name (names cannot start with `bud-`, see the API's validation). */
  get(idOrName: string): Budget | undefined {
    const row =
      this.#db.get('SELECT * FROM budgets WHERE id = ?', idOrName) ??
      this.#db.get('SELECT * FROM budgets WHERE name = ?', idOrName);
    return row === undefined ? undefined : toBudget(row);
  }

  /** Audits `{ actor, action: 'budget.set', detail: { before, after } }`; `before` is null for a new budget. */
  set(spec: BudgetSpec, actor: string, nowMs: number): { budget: Budget; created: boolean } {
    return this.#db.transaction(() => {
      const before = this.#byName(spec.name);
      const after: Budget =
        before === undefined
          ? { id: `bud-${randomUUID()}`, ...pick(spec), createdAtMs: nowMs, updatedAtMs: nowMs }
          : { ...before, ...pick(spec), updatedAtMs: nowMs };
      this.#db.run(
        `INSERT INTO budgets (id, name, scope, period, cap_micros, on_cap, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, period = excluded.period,
           cap_micros = excluded.cap_micros, on_cap = excluded.on_cap, updated_at_ms = excluded.updated_at_ms`,
        after.id,
        after.name,
        JSON.stringify(after.scope),
        after.period,
        after.capMicros,
        after.onCap,
        after.createdAtMs,
        after.updatedAtMs,
      );
      this.#audit.append({ atMs: nowMs, actor, action: 'budget.set', detail: { before: before ?? null, after } });
      return { budget: after, created: before === undefined };
    });
  }

  delete(idOrName: string, actor: string, nowMs: number): Budget {
    return this.#db.transaction(() => {
      const budget = this.get(idOrName);
      if (budget === undefined) throw new NotFoundError(`deleting budget ${idOrName}: there is no such budget`);
      this.#db.run('DELETE FROM budgets WHERE id = ?', budget.id);
      this.#audit.append({ atMs: nowMs, actor, action: 'budget.delete', detail: { before: budget } });
      return budget;
    });
  }

  seed(specs: readonly BudgetSpec[], nowMs: number): number {
    return this.#db.transaction(() => {
      if (this.#db.get('SELECT 1 FROM meta WHERE key = ?', SEEDED) !== undefined) return 0;
      let written = 0;
      for (const spec of specs) {
        written += this.#db.run(
          `INSERT INTO budgets (id, name, scope, period, cap_micros, on_cap, created_at_ms, updated_at_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
          `bud-${randomUUID()}`,
          spec.name,
          JSON.stringify(spec.scope),
          spec.period,
          spec.capMicros,
          spec.onCap,
          nowMs,
          nowMs,
        );
      }
      this.#db.run('INSERT INTO meta (key, value) VALUES (?, ?)', SEEDED, String(nowMs));
      return written;
    });
  }

  recordAlert(alert: NewBudgetAlert): boolean {
    return (
      this.#db.run(
        `INSERT INTO budget_alerts (budget_id, budget_name, scope, period, period_start_ms, percent, spent_micros,
           cap_micros, at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (budget_id, period_start_ms, percent) DO NOTHING`,
        alert.budgetId,
        alert.budgetName,
        JSON.stringify(alert.scope),
        alert.period,
        alert.periodStartMs,
        alert.percent,
        alert.spentMicros,
        alert.capMicros,
        alert.atMs,
      ) > 0
    );
  }

  alerts(limit?: number, beforeId?: number): BudgetAlert[] {
    if (beforeId !== undefined) {
      return this.#db
        .all('SELECT * FROM budget_alerts WHERE id < ? ORDER BY id DESC LIMIT ?', beforeId, limit ?? -1)
        .map(toAlert);
    }
    return this.#db.all('SELECT * FROM budget_alerts ORDER BY id DESC LIMIT ?', limit ?? -1).map(toAlert);
  }

  #byName(name: string): Budget | undefined {
    const row = this.#db.get('SELECT * FROM budgets WHERE name = ?', name);
    return row === undefined ? undefined : toBudget(row);
  }
}

/** Only the spec's own fields, whatever else the object carries. */
function pick(spec: BudgetSpec): BudgetSpec {
  return { name: spec.name, scope: spec.scope, period: spec.period, capMicros: spec.capMicros, onCap: spec.onCap };
}

function toBudget(row: Row): Budget {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    scope: json<BudgetScope>(row, 'scope'),
    period: text(row, 'period') as BudgetPeriod,
    capMicros: int(row, 'cap_micros'),
    onCap: text(row, 'on_cap') as OnCap,
    createdAtMs: int(row, 'created_at_ms'),
    updatedAtMs: int(row, 'updated_at_ms'),
  };
}

function toAlert(row: Row): BudgetAlert {
  return {
    id: int(row, 'id'),
    budgetId: text(row, 'budget_id'),
    budgetName: text(row, 'budget_name'),
    scope: json<BudgetScope>(row, 'scope'),
    period: text(row, 'period') as BudgetPeriod,
    periodStartMs: int(row, 'period_start_ms'),
    percent: int(row, 'percent') as AlertPercent,
    spentMicros: int(row, 'spent_micros'),
    capMicros: int(row, 'cap_micros'),
    atMs: int(row, 'at_ms'),
  };
}
