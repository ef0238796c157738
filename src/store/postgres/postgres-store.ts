import type { AsyncStore } from '../async-store.ts';
import { PgAgentRepo } from './agent-repo.ts';
import { PgFencedLease } from './fenced-lease.ts';
import { PgIntentRepo } from './intent-repo.ts';
import { PgLeaseRepo } from './lease-repo.ts';
import { PgLedgerRepo } from './ledger-repo.ts';
import { PgMetaRepo } from './meta-repo.ts';
import { PG_MIGRATIONS, migratePostgres, type PgMigration } from './migrations.ts';
import { openPostgresPool, type PostgresConnectionOptions } from './pg-connection.ts';
import { PgDb } from './pg-db.ts';
import { PgTaskRepo } from './task-repo.ts';
import { PgTokenRepo } from './token-repo.ts';

/**
 * The repositories of the asynchronous port PostgreSQL implements so far. Issue 17 grows this to the whole
 * `AsyncStore`; until then nothing selects PostgreSQL in the config.
 */
export type PostgresStorePort = Pick<
  AsyncStore,
  'transaction' | 'close' | 'meta' | 'lease' | 'ledger' | 'tasks' | 'tokens' | 'agents' | 'intents'
>;

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** The schema steps to apply; default PG_MIGRATIONS. Tests inject their own. */
  readonly migrations?: readonly PgMigration[];
}

/** The PostgreSQL store: the pool, its repositories, and the fenced lease a leader uses for its epoch. */
export class PostgresStore implements PostgresStorePort {
  readonly #db: PgDb;
  readonly meta: PgMetaRepo;
  readonly lease: PgLeaseRepo;
  readonly ledger: PgLedgerRepo;
  readonly tasks: PgTaskRepo;
  readonly tokens: PgTokenRepo;
  readonly agents: PgAgentRepo;
  readonly intents: PgIntentRepo;
  /** Epochs and the fence (see PgFencedLease): what makes several controllers on one database safe. */
  readonly fencedLease: PgFencedLease;

  constructor(db: PgDb) {
    this.#db = db;
    this.meta = new PgMetaRepo(db);
    this.fencedLease = new PgFencedLease(db);
    this.lease = new PgLeaseRepo(this.fencedLease);
    this.ledger = new PgLedgerRepo(db);
    this.tasks = new PgTaskRepo(db, this.ledger);
    this.tokens = new PgTokenRepo(db);
    this.agents = new PgAgentRepo(db, this.tasks, this.tokens, this.ledger);
    this.intents = new PgIntentRepo(db, this.agents);
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.#db.transaction(fn);
  }

  /** Closing twice is not an error. */
  close(): Promise<void> {
    return this.#db.close();
  }
}

/**
 * Connects (options are checked first: a bad one is a ValidationError naming it) and migrates the database to the
 * newest schema (see `migratePostgres`). Any failure closes the pool again and rejects; an unreachable server is a
 * retryable PostgresStoreError.
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const db = new PgDb(openPostgresPool(opts));
  try {
    await migratePostgres(db, opts.migrations ?? PG_MIGRATIONS);
  } catch (err) {
    await db.close();
    throw err;
  }
  return new PostgresStore(db);
}
