import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';
import { SpillwayError, errorMessage } from '../../core/errors.ts';

export type PgRow = Record<string, unknown>;

/** SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const INTEGRITY_CONSTRAINT_CLASS = '23';
const SERIALIZATION_FAILURE = '40001';
const DEADLOCK_DETECTED = '40P01';
const CONNECTION_EXCEPTION_CLASS = '08';
const OPERATOR_INTERVENTION_CLASS = '57';
const INSUFFICIENT_RESOURCES_CLASS = '53';

/** True when `err` is PostgreSQL refusing a write for a UNIQUE, PRIMARY KEY, CHECK, NOT NULL or FOREIGN KEY rule. */
export function isConstraintError(err: unknown): boolean {
  return sqlState(err)?.startsWith(INTEGRITY_CONSTRAINT_CLASS) ?? false;
}

/** The SQLSTATE of a server error, also through a PostgresStoreError wrapping one. */
export function sqlState(err: unknown): string | undefined {
  if (err instanceof PostgresStoreError) return err.sqlState;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether the same statement may succeed later: the server was unreachable, restarting or out of connections, or the
 * transaction lost a serialization race. Constraint and syntax errors are not.
 */
export function isRetryable(err: unknown): boolean {
  const state = sqlState(err);
  if (state === undefined) {
    // No SQLSTATE: the socket failed (ECONNREFUSED, ENOENT on a socket path, a timeout, a connection ended).
    return err instanceof Error && !(err instanceof SpillwayError);
  }
  return (
    state === SERIALIZATION_FAILURE ||
    state === DEADLOCK_DETECTED ||
    state.startsWith(CONNECTION_EXCEPTION_CLASS) ||
    state.startsWith(OPERATOR_INTERVENTION_CLASS) ||
    state.startsWith(INSUFFICIENT_RESOURCES_CLASS)
  );
}

/** A query or transaction of the PostgreSQL store failed. `retryable` per `isRetryable`; `sqlState` when the server said. */
export class PostgresStoreError extends SpillwayError {
  override readonly name = 'PostgresStoreError';
  readonly sqlState: string | undefined;

  constructor(doing: string, cause: unknown) {
    super(`${doing}: ${errorMessage(cause)}`, { retryable: isRetryable(cause), cause });
    this.sqlState = sqlState(cause);
  }
}

interface Scope {
  readonly client: pg.PoolClient;
  depth: number;
  /** A query timed out: the connection's protocol state is unknown, so nothing more is sent on it. */
  timedOut: boolean;
}

/** pg's error when a query's answer did not come within `query_timeout` (it carries no code). */
function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('Query read timeout');
}

/**
 * The store's access to PostgreSQL: a pool, and the transaction rule. The outermost `transaction` takes one
 * connection for its whole callback (BEGIN .. COMMIT, READ COMMITTED: repositories lock the rows they change); every
 * query made inside the callback, however deep in the call tree, runs on that connection (an AsyncLocalStorage carries
 * it), and a nested `transaction` is a savepoint, so a nested call that throws undoes only its own writes. Queries
 * outside any transaction each take a connection from the pool and autocommit.
 *
 * Errors other than SpillwayErrors thrown by callbacks reach the caller as PostgresStoreError, with `retryable` set
 * when the server was unreachable or the transaction lost a race.
 */
export class PgDb {
  readonly #pool: pg.Pool;
  readonly #scope = new AsyncLocalStorage<Scope>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    // An idle connection the server ended (a restart, an administrator) must not crash the process: the pool drops
    // it and the next query opens a new one; a query that needed it fails there, retryably.
    pool.on('error', () => undefined);
  }

  async all(sql: string, params: readonly unknown[] = []): Promise<PgRow[]> {
    const result = await this.#query(sql, params);
    return result.rows;
  }

  async get(sql: string, params: readonly unknown[] = []): Promise<PgRow | undefined> {
    const result = await this.#query(sql, params);
    return result.rows[0];
  }

  /** Runs a write and returns how many rows it changed. */
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    const result = await this.#query(sql, params);
    return result.rowCount ?? 0;
  }

  /** Whether the caller runs inside a `transaction` callback. */
  get inTransaction(): boolean {
    return this.#scope.getStore() !== undefined;
  }

  /** Runs `fn` as one transaction, or as a savepoint of the one already open in this async context. */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.#transaction('BEGIN', fn);
  }

  /**
   * Runs reads that must see one snapshot: a read-only REPEATABLE READ transaction, or inside the open transaction
   * when there is one. `fn` must not write.
   */
  read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn();
    return this.#transaction('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY', fn);
  }

  async #transaction<T>(begin: string, fn: () => Promise<T>): Promise<T> {
    const scope = this.#scope.getStore();
    if (scope !== undefined) return this.#nested(scope, fn);
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw new PostgresStoreError('starting a store transaction', err);
    }
    // The server may end the connection between the callback's queries (a restart, a failover): pg reports it as an
    // 'error' event on the checked-out client, which must not crash the process. The next query on it then fails,
    // retryably, and the transaction rolls back on the server.
    let lost: unknown;
    const onError = (err: unknown): void => {
      lost = err;
    };
    client.on('error', onError);
    let broken = false;
    const own: Scope = { client, depth: 1, timedOut: false };
    try {
      await client.query(begin);
      const result = await this.#scope.run(own, fn);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // After a timeout the connection may still be waiting for the old answer (pg leaves it so): a ROLLBACK sent on
      // it would wait as long again. It is dropped; the server rolls back when it sees the connection end.
      broken = own.timedOut || isQueryTimeout(err);
      if (!broken) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection is gone: the server rolls the transaction back itself. Do not reuse the connection.
          broken = true;
        }
      }
      throw wrap('running a store transaction', err);
    } finally {
      client.off('error', onError);
      client.release(broken || lost !== undefined);
    }
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  async #nested<T>(scope: Scope, fn: () => Promise<T>): Promise<T> {
    const savepoint = `sp${scope.depth}`;
    await scope.client.query(`SAVEPOINT ${savepoint}`);
    scope.depth += 1;
    try {
      const result = await fn();
      await scope.client.query(`RELEASE SAVEPOINT ${savepoint}`);
      return result;
    } catch (err) {
      if (scope.timedOut) throw err;
      await scope.client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      await scope.client.query(`RELEASE SAVEPOINT ${savepoint}`);
      throw err;
    } finally {
      scope.depth -= 1;
    }
  }

  async #query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult<PgRow>> {
    const scope = this.#scope.getStore();
    try {
      if (scope?.timedOut) throw new Error('Query read timeout (earlier in this transaction)');
      if (scope !== undefined) return await scope.client.query<PgRow>(sql, params as unknown[]);
      return await this.#pool.query<PgRow>(sql, params as unknown[]);
    } catch (err) {
      // Outside a transaction the pool drops the connection of a failed query itself.
      if (scope !== undefined && isQueryTimeout(err)) scope.timedOut = true;
      throw wrap(`querying the store (${firstLine(sql)})`, err);
    }
  }
}

function wrap(doing: string, err: unknown): SpillwayError {
  return err instanceof SpillwayError ? err : new PostgresStoreError(doing, err);
}

function firstLine(sql: string): string {
  const line = sql.trim().split('\n', 1)[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
