import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from 'node:sqlite';
import { SpillwayError } from '../../core/errors.ts';

export type Row = Record<string, SQLOutputValue>;

/** SQLite's primary result codes, from the low byte of an extended code (https://sqlite.org/rescode.html). */
const SQLITE_BUSY = 5;
const SQLITE_CONSTRAINT = 19;

/** True when `err` is SQLite refusing a write for a UNIQUE, PRIMARY KEY, CHECK or FOREIGN KEY constraint. */
export function isConstraintError(err: unknown): boolean {
  return sqliteCode(err) === SQLITE_CONSTRAINT;
}

function sqliteCode(err: unknown): number | undefined {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' ? errcode & 0xff : undefined;
}

/**
 * One SQLite connection with a statement cache and the store's transaction rule: the outermost `transaction` is
 * `BEGIN IMMEDIATE` .. `COMMIT`, so it takes the write lock up front and never fails half-way on a lock upgrade; a
 * nested call joins it through a savepoint, so a nested call that throws undoes only its own writes, and everything
 * commits or rolls back with the outermost call.
 */
export class SqliteDb {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #depth = 0;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Whether a `transaction` (or `transactionAsync`) is open on this connection. */
  get inTransaction(): boolean {
    return this.#depth > 0;
  }

  /** A prepared statement for `sql`, prepared once per connection. */
  statement(sql: string): StatementSync {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.statement(sql).get(...params);
  }

  all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.statement(sql).all(...params);
  }

  /** Runs a write and returns how many rows it changed. */
  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.statement(sql).run(...params).changes);
  }

  /**
   * Runs `fn` as one transaction, or inside the one already open. `fn` must be synchronous: a transaction cannot stay
   * open across an await, because other callers on this connection would write into it.
   */
  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) return this.#nested(fn);
    this.#begin();
    this.#depth = 1;
    try {
      const result = checkSynchronous(fn());
      this.#control('COMMIT');
      return result;
    } catch (err) {
      // A failed COMMIT may already have ended the transaction; roll back only what is still open.
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    } finally {
      this.#depth = 0;
    }
  }

  /**
   * `transaction` for an async `fn`: one transaction (or a savepoint of the open one) held across its awaits. Only for
   * the async adapter (src/store/sqlite/async-sqlite-store.ts), which keeps every other caller off this connection
   * until it settles: whatever runs on the connection meanwhile would join the transaction.
   */
  async transactionAsync<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#depth > 0) {
      const savepoint = SAVEPOINTS[this.#depth] ?? `sp${this.#depth}`;
      this.#control(`SAVEPOINT ${savepoint}`);
      this.#depth += 1;
      try {
        const result = await fn();
        this.#control(`RELEASE ${savepoint}`);
        return result;
      } catch (err) {
        this.#db.exec(`ROLLBACK TO ${savepoint}`);
        this.#db.exec(`RELEASE ${savepoint}`);
        throw err;
      } finally {
        this.#depth -= 1;
      }
    }
    this.#begin();
    this.#depth = 1;
    try {
      const result = await fn();
      this.#control('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    } finally {
      this.#depth = 0;
    }
  }

  /**
   * Runs reads that must see one snapshot. Outside a transaction it opens a deferred one, which takes no write lock;
   * `fn` must not write.
   */
  read<T>(fn: () => T): T {
    if (this.#depth > 0) return fn();
    this.#control('BEGIN DEFERRED');
    try {
      return fn();
    } finally {
      this.#control('COMMIT');
    }
  }

  /**
   * Runs a transaction control statement (BEGIN, COMMIT, SAVEPOINT, RELEASE) prepared once: the store runs several
   * per change, and compiling each again was a measurable part of a small write. Rollbacks still go through exec.
   */
  #control(sql: string): void {
    this.statement(sql).run();
  }

  #begin(): void {
    try {
      this.#control('BEGIN IMMEDIATE');
    } catch (err) {
      if (sqliteCode(err) === SQLITE_BUSY) {
        throw new SpillwayError('starting a store transaction: another process holds the write lock', {
          retryable: true,
          cause: err,
        });
      }
      throw err;
    }
  }

  #nested<T>(fn: () => T): T {
    const savepoint = SAVEPOINTS[this.#depth] ?? `sp${this.#depth}`;
    this.#control(`SAVEPOINT ${savepoint}`);
    this.#depth += 1;
    try {
      const result = checkSynchronous(fn());
      this.#control(`RELEASE ${savepoint}`);
      return result;
    } catch (err) {
      this.#db.exec(`ROLLBACK TO ${savepoint}`);
      this.#db.exec(`RELEASE ${savepoint}`);
      throw err;
    } finally {
      this.#depth -= 1;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
    this.#statements.clear();
  }
}

/** Savepoint names of the first nesting depths, so their statements' SQL is the same string each time. */
const SAVEPOINTS = ['sp0', 'sp1', 'sp2', 'sp3', 'sp4', 'sp5', 'sp6', 'sp7'];

function checkSynchronous<T>(result: T): T {
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw new SpillwayError(
      'running a store transaction: the callback returned a promise; transactions are synchronous',
    );
  }
  return result;
}
