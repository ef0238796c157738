import type { AsyncStore } from '../async-store.ts';
import { PgAgentRepo } from './agent-repo.ts';
import { PgAuditRepo } from './audit-repo.ts';
import { PgBudgetRepo } from './budget-repo.ts';
import { PgChangeRepo } from './change-repo.ts';
import { PgConsoleRepo } from './console-repo.ts';
import { PgFencedLease } from './fenced-lease.ts';
import { PgIntentRepo } from './intent-repo.ts';
import { PgLeaseRepo } from './lease-repo.ts';
import { PgLedgerRepo } from './ledger-repo.ts';
import { PgMetaRepo } from './meta-repo.ts';
import { PG_MIGRATIONS, migratePostgres, type PgMigration } from './migrations.ts';
import { openPostgresPool, type PostgresConnectionOptions } from './pg-connection.ts';
import { PgDb } from './pg-db.ts';
import { PgPolicyRepo } from './policy-repo.ts';
import { PgRegistrationRepo } from './registration-repo.ts';
import { PgTaskRepo } from './task-repo.ts';
import { PgTokenRepo } from './token-repo.ts';

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** The schema steps to apply; default PG_MIGRATIONS. Tests inject their own. */
  readonly migrations?: readonly PgMigration[];
}

/**
 * The PostgreSQL store: every repository of the asynchronous port, and the fenced lease a leader uses for its epoch.
 * Selected by `store: {kind: postgres}` (src/store/open-store.ts), for controllers on separate machines.
 */
export class PostgresStore implements AsyncStore {
  readonly #db: PgDb;
  readonly meta: PgMetaRepo;
  readonly ledger: PgLedgerRepo;
  readonly tasks: PgTaskRepo;
  readonly tokens: PgTokenRepo;
  readonly agents: PgAgentRepo;
  readonly intents: PgIntentRepo;
  readonly audit: PgAuditRepo;
  readonly policy: PgPolicyRepo;
  readonly budgets: PgBudgetRepo;
  readonly registrations: PgRegistrationRepo;
  readonly lease: PgLeaseRepo;
  readonly console: PgConsoleRepo;
  /**
   * The in-memory model's change feed (see PgChangeRepo): revisions are transaction-id watermarks, safe with many
   * writers. Not part of AsyncStore yet, which leaves `changes` out while SQLite's stays synchronous.
   */
  readonly changes: PgChangeRepo;
  /** Epochs and the fence (see PgFencedLease): what makes several controllers on one database safe. */
  readonly fencedLease: PgFencedLease;

  constructor(db: PgDb) {
    this.#db = db;
    this.meta = new PgMetaRepo(db);
    this.ledger = new PgLedgerRepo(db);
    this.tasks = new PgTaskRepo(db, this.ledger);
    this.tokens = new PgTokenRepo(db);
    this.agents = new PgAgentRepo(db, this.tasks, this.tokens, this.ledger);
    this.intents = new PgIntentRepo(db, this.agents);
    this.audit = new PgAuditRepo(db);
    this.policy = new PgPolicyRepo(db, this.audit);
    this.budgets = new PgBudgetRepo(db, this.audit);
    this.registrations = new PgRegistrationRepo(db);
    this.fencedLease = new PgFencedLease(db);
    this.lease = new PgLeaseRepo(this.fencedLease);
    this.console = new PgConsoleRepo(db);
    this.changes = new PgChangeRepo(db);
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.#db.transaction(fn);
  }

  /**
   * A write that acts on the world, fenced: one transaction that first checks that `epoch` is still the current epoch
   * of lease `lease` (see PgFencedLease.check), then runs `fn`. Rejects with FencedError, changing nothing, when a
   * newer epoch exists or the lease lapsed; a takeover waits until this transaction ends.
   */
  fencedTransaction<T>(lease: string, epoch: number, fn: () => Promise<T>): Promise<T> {
    return this.#db.transaction(async () => {
      await this.fencedLease.check(lease, epoch);
      return fn();
    });
  }

  /** Closing twice is not an error. */
  close(): Promise<void> {
    return this.#db.close();
  }
}

/** How long one statement of a migration may take (the store's own queries get `queryTimeoutMs`). */
const MIGRATION_QUERY_TIMEOUT_MS = 3_600_000;

/**
 * Connects (options are checked first: a bad one is a ValidationError naming it) and migrates the database to the
 * newest schema (see `migratePostgres`). Any failure closes the pool again and rejects; an unreachable server is a
 * retryable PostgresStoreError.
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const db = new PgDb(openPostgresPool(opts));
  // A migration may rebuild an index over every task: it has a connection of its own, with an hour per statement.
  const migrator = new PgDb(
    openPostgresPool({ ...opts, maxConnections: 1, queryTimeoutMs: MIGRATION_QUERY_TIMEOUT_MS }),
  );
  try {
    await migratePostgres(migrator, opts.migrations ?? PG_MIGRATIONS);
  } catch (err) {
    await db.close();
    throw err;
  } finally {
    await migrator.close();
  }
  return new PostgresStore(db);
}
