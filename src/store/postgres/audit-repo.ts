import type { AsyncRepo } from '../async-store.ts';
import type { AuditEntry, AuditRepo } from '../store.ts';
import type { PgDb, PgRow } from './pg-db.ts';
import { int, json, text } from './rows.ts';

/** An append-only record of who changed policy and budgets, and how (as SqliteAuditRepo). */
export class PgAuditRepo implements AsyncRepo<AuditRepo> {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  /** `detail` is stored as JSON; what JSON cannot hold (functions, undefined fields) is dropped. */
  async append(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.#db.run('INSERT INTO audit (at_ms, actor, action, detail) VALUES ($1, $2, $3, $4)', [
      entry.atMs,
      entry.actor,
      entry.action,
      JSON.stringify(entry.detail ?? null),
    ]);
  }

  /** Every entry when `limit` is left out (LIMIT NULL is no limit). */
  async list(limit?: number, beforeId?: number): Promise<AuditEntry[]> {
    const rows = await this.#db.all(
      'SELECT * FROM audit WHERE ($1::bigint IS NULL OR id < $1::bigint) ORDER BY id DESC LIMIT $2',
      [beforeId ?? null, limit ?? null],
    );
    return rows.map(toEntry);
  }
}

function toEntry(row: PgRow): AuditEntry {
  return {
    id: int(row, 'id'),
    atMs: int(row, 'at_ms'),
    actor: text(row, 'actor'),
    action: text(row, 'action'),
    detail: json<unknown>(row, 'detail'),
  };
}
