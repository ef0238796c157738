import type { AuditEntry, AuditRepo } from '../store.ts';
import { int, json, text } from './rows.ts';
import type { Row, SqliteDb } from './sqlite-db.ts';

/** An append-only record of who changed policy and budgets, and how. */
export class SqliteAuditRepo implements AuditRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  /** `detail` is stored as JSON; what JSON cannot hold (functions, undefined fields) is dropped. */
  append(entry: Omit<AuditEntry, 'id'>): void {
    this.#db.transaction(() => {
      this.#db.run(
        'INSERT INTO audit (at_ms, actor, action, detail) VALUES (?, ?, ?, ?)',
        entry.atMs,
        entry.actor,
        entry.action,
        JSON.stringify(entry.detail ?? null),
      );
    });
  }

  /** Every entry when `limit` is left out. */
  list(limit?: number, beforeId?: number): AuditEntry[] {
    if (beforeId !== undefined) {
      return this.#db
        .all('SELECT * FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?', beforeId, limit ?? -1)
        .map(toEntry);
    }
    return this.#db.all('SELECT * FROM audit ORDER BY id DESC LIMIT ?', limit ?? -1).map(toEntry);
  }
}

function toEntry(row: Row): AuditEntry {
  return {
    id: int(row, 'id'),
    atMs: int(row, 'at_ms'),
    actor: text(row, 'actor'),
    action: text(row, 'action'),
    detail: json<unknown>(row, 'detail'),
  };
}
