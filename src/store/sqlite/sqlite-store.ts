import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SpillwayError, errorMessage } from '../../core/errors.ts';
import type { Store } from '../store.ts';
import { SqliteAgentRepo } from './agent-repo.ts';
import { SqliteAuditRepo } from './audit-repo.ts';
import { SqliteBudgetRepo } from './budget-repo.ts';
import { SqliteChangeRepo } from './change-repo.ts';
import { SqliteIntentRepo } from './intent-repo.ts';
import { SqliteLeaseRepo } from './lease-repo.ts';
import { SqliteLedgerRepo } from './ledger-repo.ts';
import { SqliteMetaRepo } from './meta-repo.ts';
import { MIGRATIONS, migrate, type Migration } from './migrations.ts';
import { SqlitePolicyRepo } from './policy-repo.ts';
import { SqliteDb } from './sqlite-db.ts';
import { SqliteTaskRepo } from './task-repo.ts';
import { SqliteTokenRepo } from './token-repo.ts';
import { SqliteRegistrationRepo } from './registration-repo.ts';
import { SqliteConsoleRepo } from './console-repo.ts';

export interface SqliteStoreOptions {
  /** The schema steps to apply; default MIGRATIONS. Tests inject their own. */
  readonly migrations?: readonly Migration[];
  /** How long a write waits for another process's write lock before it fails, retryably; default 5000. */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens (creating it and its folder when missing) the SQLite store at `path`, or an in-memory one for `:memory:`, and
 * migrates it to the newest schema, backing it up first (see `migrate`). Several processes may open one file: writes
 * take turns on SQLite's write lock, each waiting up to `busyTimeoutMs` for it. Any failure to open is a SpillwayError
 * naming the path.
 *
 * Durability: WAL with `synchronous=FULL` syncs the log on every commit, so a committed transaction survives a killed
 * process and a power cut; an uncommitted one vanishes whole.
 */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5_000;
  let db: DatabaseSync | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new DatabaseSync(path, { timeout: busyTimeoutMs });
    db.exec(`PRAGMA busy_timeout = ${Math.floor(busyTimeoutMs)}`);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
    migrate(db, path, opts.migrations ?? MIGRATIONS);
  } catch (err) {
    db?.close();
    if (err instanceof SpillwayError) throw err;
    throw new SpillwayError(`opening ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return new SqliteStore(new SqliteDb(db));
}

export class SqliteStore implements Store {
  readonly #db: SqliteDb;
  readonly meta: SqliteMetaRepo;
  readonly tasks: SqliteTaskRepo;
  readonly agents: SqliteAgentRepo;
  readonly intents: SqliteIntentRepo;
  readonly tokens: SqliteTokenRepo;
  readonly policy: SqlitePolicyRepo;
  readonly audit: SqliteAuditRepo;
  readonly lease: SqliteLeaseRepo;
  readonly ledger: SqliteLedgerRepo;
  readonly budgets: SqliteBudgetRepo;
  readonly registrations: SqliteRegistrationRepo;
  readonly console: SqliteConsoleRepo;
  readonly changes: SqliteChangeRepo;

  constructor(db: SqliteDb) {
    this.#db = db;
    this.meta = new SqliteMetaRepo(db);
    this.ledger = new SqliteLedgerRepo(db);
    this.tasks = new SqliteTaskRepo(db, this.ledger);
    this.tokens = new SqliteTokenRepo(db);
    this.agents = new SqliteAgentRepo(db, this.tasks, this.tokens, this.ledger);
    this.intents = new SqliteIntentRepo(db, this.agents);
    this.audit = new SqliteAuditRepo(db);
    this.policy = new SqlitePolicyRepo(db, this.audit);
    this.lease = new SqliteLeaseRepo(db);
    this.budgets = new SqliteBudgetRepo(db, this.audit);
    this.registrations = new SqliteRegistrationRepo(db);
    this.console = new SqliteConsoleRepo(db);
    this.changes = new SqliteChangeRepo(db);
  }

  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn);
  }

  /** For the async adapter only (src/store/sqlite/async-sqlite-store.ts): see `SqliteDb.transactionAsync`. */
  transactionAsync<T>(fn: () => Promise<T>): Promise<T> {
    return this.#db.transactionAsync(fn);
  }

  /** Closing twice is not an error. */
  close(): void {
    this.#db.close();
  }
}
