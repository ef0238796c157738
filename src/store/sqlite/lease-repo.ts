import { SpillwayError } from '../../core/errors.ts';
import { FencedError } from '../fenced-error.ts';
import type { LeaseRepo } from '../store.ts';
import { int, text } from './rows.ts';
import type { SqliteDb } from './sqlite-db.ts';

/**
 * Named leases with an expiry and a fencing epoch, shared by every process that opens the file. Acquiring is one
 * upsert under the write lock, so two controllers racing for a free lease cannot both win. Expiry compares the
 * callers' clocks: controllers sharing a store (one machine) must keep their clocks close, and pick a ttl well above
 * the skew. Every transaction takes the write lock up front (BEGIN IMMEDIATE), so a `check` inside one holds off any
 * takeover until it ends.
 */
export class SqliteLeaseRepo implements LeaseRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  /** A lease whose `expires_at_ms` is at or before `nowMs` is free. A takeover starts the next epoch. */
  acquire(name: string, holder: string, nowMs: number, ttlMs: number): boolean {
    return this.#db.transaction(
      () =>
        this.#db.run(
          `INSERT INTO lease (name, holder, expires_at_ms, epoch) VALUES (?1, ?2, ?3, 1)
           ON CONFLICT (name) DO UPDATE SET
             epoch = CASE WHEN lease.holder = excluded.holder AND lease.expires_at_ms > ?4
               THEN lease.epoch ELSE lease.epoch + 1 END,
             holder = excluded.holder,
             expires_at_ms = excluded.expires_at_ms
           WHERE lease.holder = excluded.holder OR lease.expires_at_ms <= ?4`,
          name,
          holder,
          nowMs + ttlMs,
          nowMs,
        ) > 0,
    );
  }

  /** Ends the tenure at once; the row and its epoch stay, so the next holder's epoch is higher. */
  release(name: string, holder: string): void {
    this.#db.transaction(() => {
      this.#db.run('UPDATE lease SET expires_at_ms = 0 WHERE name = ? AND holder = ?', name, holder);
    });
  }

  holder(name: string, nowMs: number): string | undefined {
    const row = this.#db.get('SELECT holder FROM lease WHERE name = ? AND expires_at_ms > ?', name, nowMs);
    return row === undefined ? undefined : text(row, 'holder');
  }

  epoch(name: string, holder: string, nowMs: number): number | undefined {
    const row = this.#db.get(
      'SELECT epoch FROM lease WHERE name = ? AND holder = ? AND expires_at_ms > ?',
      name,
      holder,
      nowMs,
    );
    return row === undefined ? undefined : int(row, 'epoch');
  }

  check(name: string, epoch: number, nowMs: number): void {
    if (!this.#db.inTransaction) {
      throw new SpillwayError(`checking lease ${name}: the fence must run inside the write's transaction`);
    }
    const row = this.#db.get('SELECT epoch, expires_at_ms FROM lease WHERE name = ?', name);
    if (row === undefined) throw new FencedError(name, epoch, null, 'the lease was never taken');
    const current = int(row, 'epoch');
    if (current !== epoch) throw new FencedError(name, epoch, current, `a newer epoch ${current} exists`);
    if (int(row, 'expires_at_ms') <= nowMs) throw new FencedError(name, epoch, current, 'the lease expired or was released');
  }
}
