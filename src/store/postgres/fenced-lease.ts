import { SpillwayError } from '../../core/errors.ts';
import { FencedError } from '../fenced-error.ts';
import type { PgDb, PgRow } from './pg-db.ts';

/** A lease as held: its epoch and its times, all read from the database's clock (epoch milliseconds). */
export interface LeaseGrant {
  readonly name: string;
  readonly holder: string;
  /** Grows by one on every takeover (never on a renewal) and never goes back. */
  readonly epoch: number;
  /** When this epoch began. */
  readonly acquiredAtMs: number;
  /** When the lease lapses unless renewed. */
  readonly expiresAtMs: number;
}

const GRANT_COLUMNS = `name, holder, epoch,
  (extract(epoch FROM acquired_at) * 1000)::bigint AS acquired_at_ms,
  (extract(epoch FROM expires_at) * 1000)::bigint AS expires_at_ms`;

/**
 * Named leases with fencing epochs on PostgreSQL (schema version 7), for controllers on separate machines.
 *
 * Time is the database's: every expiry is `clock_timestamp()` plus the ttl, and every comparison is with
 * `clock_timestamp()`, so the holders' clocks never matter. A holder should renew well within its ttl, counting from
 * before it sent the request, on its own monotonic clock.
 *
 * Fencing: a write that acts on the world runs in a transaction that first calls `check` with the writer's epoch.
 * `check` refuses unless that epoch is the lease's current one, still held and unexpired, and it locks the lease row
 * (FOR SHARE) until the transaction ends, so a takeover waits for the writer's commit: no write of an old epoch can
 * commit once a newer epoch exists.
 */
export class PgFencedLease {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  /**
   * Takes the lease `name` for `holder` for `ttlMs` when it is free (never taken, released or expired), with the next
   * epoch; renews it, keeping the epoch, when `holder` holds it unexpired. Returns the grant, or undefined when
   * another holder has it. Two callers racing for a free lease: exactly one wins.
   */
  async acquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | undefined> {
    checkTtl(ttlMs);
    const row = await this.#db.get(
      `INSERT INTO lease AS l (name, holder, epoch, acquired_at, expires_at)
       VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET
         holder = excluded.holder,
         epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > clock_timestamp() THEN l.epoch ELSE l.epoch + 1 END,
         acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > clock_timestamp()
           THEN l.acquired_at ELSE clock_timestamp() END,
         expires_at = clock_timestamp() + $3 * interval '1 millisecond'
       WHERE l.holder IS NULL OR l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
       RETURNING ${GRANT_COLUMNS}`,
      [name, holder, ttlMs],
    );
    return row === undefined ? undefined : grantOf(row);
  }

  /**
   * Extends the lease by `ttlMs` from now when `holder` still holds it at `epoch`, unexpired. Returns the grant, or
   * undefined when the lease was lost (expired, released, taken over): the caller must stop acting as its holder.
   */
  async renew(name: string, holder: string, epoch: number, ttlMs: number): Promise<LeaseGrant | undefined> {
    checkTtl(ttlMs);
    const row = await this.#db.get(
      `UPDATE lease SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
       WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp()
       RETURNING ${GRANT_COLUMNS}`,
      [name, holder, epoch, ttlMs],
    );
    return row === undefined ? undefined : grantOf(row);
  }

  /**
   * Gives the lease up when `holder` holds it (at `epoch`, when given), so another can take it at once. The row and
   * its epoch stay: the next holder's epoch is higher. Returns whether it released anything.
   */
  async release(name: string, holder: string, epoch?: number): Promise<boolean> {
    const changed = await this.#db.run(
      `UPDATE lease SET holder = NULL, expires_at = clock_timestamp()
       WHERE name = $1 AND holder = $2 AND ($3::bigint IS NULL OR epoch = $3::bigint)`,
      [name, holder, epoch ?? null],
    );
    return changed > 0;
  }

  /** The lease as held now, or undefined when nobody holds it (never taken, released, expired). */
  async current(name: string): Promise<LeaseGrant | undefined> {
    const row = await this.#db.get(
      `SELECT ${GRANT_COLUMNS} FROM lease
       WHERE name = $1 AND holder IS NOT NULL AND expires_at > clock_timestamp()`,
      [name],
    );
    return row === undefined ? undefined : grantOf(row);
  }

  /**
   * The fence. Call it inside the write's transaction (before or after its writes: either way the transaction
   * commits only if this passes). Throws FencedError, and the caller's transaction rolls back, unless `epoch` is the
   * lease's current epoch and the lease is held and unexpired by the database's clock. Holds the lease row FOR SHARE
   * until the transaction ends. Outside a transaction it throws a SpillwayError: the lock would end at once.
   */
  async check(name: string, epoch: number): Promise<void> {
    if (!this.#db.inTransaction) {
      throw new SpillwayError(`checking lease ${name}: the fence must run inside the write's transaction`);
    }
    const row = await this.#db.get(
      `SELECT holder, epoch, expires_at > clock_timestamp() AS live FROM lease WHERE name = $1 FOR SHARE`,
      [name],
    );
    if (row === undefined) throw new FencedError(name, epoch, null, 'the lease was never taken');
    const current = Number(row['epoch']);
    if (current !== epoch) {
      throw new FencedError(name, epoch, current, `a newer epoch ${current} exists`);
    }
    if (row['holder'] === null) throw new FencedError(name, epoch, current, 'the lease was released');
    if (row['live'] !== true) throw new FencedError(name, epoch, current, 'the lease expired');
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < 1) {
    throw new SpillwayError(`taking a lease: ttlMs must be a positive integer, got ${ttlMs}`);
  }
}

function grantOf(row: PgRow): LeaseGrant {
  return {
    name: String(row['name']),
    holder: String(row['holder']),
    epoch: Number(row['epoch']),
    acquiredAtMs: Number(row['acquired_at_ms']),
    expiresAtMs: Number(row['expires_at_ms']),
  };
}
