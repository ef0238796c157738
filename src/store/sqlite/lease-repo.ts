import type { LeaseRepo } from '../store.ts';
import { text } from './rows.ts';
import type { SqliteDb } from './sqlite-db.ts';

/**
 * Named leases with an expiry, shared by every process that opens the file. Acquiring is one upsert under the write
 * lock, so two controllers racing for a free lease cannot both win. Expiry compares the callers' clocks: controllers
 * sharing a store must keep their clocks close, and pick a ttl well above the skew.
 */
export class SqliteLeaseRepo implements LeaseRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  /** A lease whose `expires_at_ms` is at or before `nowMs` is free. */
  acquire(name: string, holder: string, nowMs: number, ttlMs: number): boolean {
    return this.#db.transaction(
      () =>
        this.#db.run(
          `INSERT INTO lease (name, holder, expires_at_ms) VALUES (?1, ?2, ?3)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
           WHERE lease.holder = excluded.holder OR lease.expires_at_ms <= ?4`,
          name,
          holder,
          nowMs + ttlMs,
          nowMs,
        ) > 0,
    );
  }

  release(name: string, holder: string): void {
    this.#db.transaction(() => {
      this.#db.run('DELETE FROM lease WHERE name = ? AND holder = ?', name, holder);
    });
  }

  holder(name: string, nowMs: number): string | undefined {
    const row = this.#db.get('SELECT holder FROM lease WHERE name = ? AND expires_at_ms > ?', name, nowMs);
    return row === undefined ? undefined : text(row, 'holder');
  }
}
