import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../core/errors.ts';
import type { AlertPercent, BudgetAlert, NewBudgetAlert } from '../../cost-model/budget-alerts.ts';
import type { Budget, BudgetPeriod, BudgetScope, BudgetSpec, OnCap } from '../../cost-model/budget.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { BudgetRepo } from '../store.ts';
import type { PgAuditRepo } from './audit-repo.ts';
import type { PgDb, PgRow } from './pg-db.ts';
import { int, json, text } from './rows.ts';

/** The meta key set once the config's budgets were seeded. */
const SEEDED = 'budgets_seeded';

/**
 * Finance's budgets (audited like the policy) and the alerts they raised, as SqliteBudgetRepo. Changes take a
 * transaction-scoped advisory lock first (one for all budgets: they change rarely), so two changes at once take turns
 * and each audit entry's `before` is what the other left; two controllers seeding at once seed once.
 */
export class PgBudgetRepo implements AsyncRepo<BudgetRepo> {
  readonly #db: PgDb;
  readonly #audit: PgAuditRepo;

  constructor(db: PgDb, audit: PgAuditRepo) {
    this.#db = db;
    this.#audit = audit;
  }

  async list(): Promise<Budget[]> {
    return (await this.#db.all('SELECT * FROM budgets ORDER BY name')).map(toBudget);
  }

  /**
   * An id wins over a name (names cannot start with `bud-`, see the API's validation). Inside a transaction, first
   * takes the budgets' lock until the transaction ends, as `set` and `delete` do: the API checks a scoped token's
   * right to a budget on what `get` read, then sets or deletes it, and under READ COMMITTED another controller could
   * otherwise move the budget out of that token's scope in between, and the write would land on a budget the token
   * may no longer touch. Only these read-then-write paths read one budget inside a transaction; passes use `list`.
   */
  async get(idOrName: string): Promise<Budget | undefined> {
    if (this.#db.inTransaction) await this.#lock();
    const row =
      (await this.#db.get('SELECT * FROM budgets WHERE id = $1', [idOrName])) ??
      (await this.#db.get('SELECT * FROM budgets WHERE name = $1', [idOrName]));
    return row === undefined ? undefined : toBudget(row);
  }

  /** Audits `{ actor, action: 'budget.set', detail: { before, after } }`; `before` is null for a new budget. */
  set(spec: BudgetSpec, actor: string, nowMs: number): Promise<{ budget: Budget; created: boolean }> {
    return this.#db.transaction(async () => {
      await this.#lock();
      const row = await this.#db.get('SELECT * FROM budgets WHERE name = $1', [spec.name]);
      const before = row === undefined ? undefined : toBudget(row);
      const after: Budget =
        before === undefined
          ? { id: `bud-${randomUUID()}`, ...pick(spec), createdAtMs: nowMs, updatedAtMs: nowMs }
          : { ...before, ...pick(spec), updatedAtMs: nowMs };
      await this.#db.run(
        `INSERT INTO budgets (id, name, scope, period, cap_micros, on_cap, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, period = excluded.period,
           cap_micros = excluded.cap_micros, on_cap = excluded.on_cap, updated_at_ms = excluded.updated_at_ms`,
        [
          after.id,
          after.name,
          JSON.stringify(after.scope),
          after.period,
          after.capMicros,
          after.onCap,
          after.createdAtMs,
          after.updatedAtMs,
        ],
      );
      await this.#audit.append({ atMs: nowMs, actor, action: 'budget.set', detail: { before: before ?? null, after } });
      return { budget: after, created: before === undefined };
    });
  }

  delete(idOrName: string, actor: string, nowMs: number): Promise<Budget> {
    return this.#db.transaction(async () => {
      await this.#lock();
      const budget = await this.get(idOrName);
      if (budget === undefined) throw new NotFoundError(`deleting budget ${idOrName}: there is no such budget`);
      await this.#db.run('DELETE FROM budgets WHERE id = $1', [budget.id]);
      await this.#audit.append({ atMs: nowMs, actor, action: 'budget.delete', detail: { before: budget } });
      return budget;
    });
  }

  seed(specs: readonly BudgetSpec[], nowMs: number): Promise<number> {
    return this.#db.transaction(async () => {
      await this.#lock();
      if ((await this.#db.get('SELECT 1 FROM meta WHERE key = $1', [SEEDED])) !== undefined) return 0;
      let written = 0;
      for (const spec of specs) {
        written += await this.#db.run(
          `INSERT INTO budgets (id, name, scope, period, cap_micros, on_cap, created_at_ms, updated_at_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (name) DO NOTHING`,
          [
            `bud-${randomUUID()}`,
            spec.name,
            JSON.stringify(spec.scope),
            spec.period,
            spec.capMicros,
            spec.onCap,
            nowMs,
          ],
        );
      }
      await this.#db.run('INSERT INTO meta (key, value) VALUES ($1, $2)', [SEEDED, String(nowMs)]);
      return written;
    });
  }

  async recordAlert(alert: NewBudgetAlert): Promise<boolean> {
    const written = await this.#db.run(
      `INSERT INTO budget_alerts (budget_id, budget_name, scope, period, period_start_ms, percent, spent_micros,
         cap_micros, at_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (budget_id, period_start_ms, percent) DO NOTHING`,
      [
        alert.budgetId,
        alert.budgetName,
        JSON.stringify(alert.scope),
        alert.period,
        alert.periodStartMs,
        alert.percent,
        alert.spentMicros,
        alert.capMicros,
        alert.atMs,
      ],
    );
    return written > 0;
  }

  async alerts(limit?: number, beforeId?: number): Promise<BudgetAlert[]> {
    const rows = await this.#db.all(
      'SELECT * FROM budget_alerts WHERE ($1::bigint IS NULL OR id < $1::bigint) ORDER BY id DESC LIMIT $2',
      [beforeId ?? null, limit ?? null],
    );
    return rows.map(toAlert);
  }

  async #lock(): Promise<void> {
    await this.#db.run("SELECT pg_advisory_xact_lock(hashtext('spillway.budgets'))");
  }
}

/** Only the spec's own fields, whatever else the object carries. */
function pick(spec: BudgetSpec): BudgetSpec {
  return { name: spec.name, scope: spec.scope, period: spec.period, capMicros: spec.capMicros, onCap: spec.onCap };
}

function toBudget(row: PgRow): Budget {
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

function toAlert(row: PgRow): BudgetAlert {
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
