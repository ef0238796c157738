import { SpillwayError, errorMessage } from '../../core/errors.ts';
import type { PgDb } from './pg-db.ts';
import { PG_SCHEMA_CHANGE_FEED } from './schema-change-feed.ts';
import { PG_SCHEMA_CONSOLE } from './schema-console.ts';
import { PG_SCHEMA_FENCED_LEASE } from './schema-fenced-lease.ts';
import { PG_SCHEMA_RECORD_ORDER } from './schema-record-order.ts';
import {
  PG_SCHEMA_BOOT_SCRIPT,
  PG_SCHEMA_ISOLATION,
  PG_SCHEMA_REGISTRATION,
  PG_SCHEMA_SCOPES,
} from './schema-steps.ts';
import { PG_SCHEMA_V1 } from './schema-v1.ts';
import { PG_SCHEMA_V2 } from './schema-v2.ts';

/**
 * One step of the PostgreSQL schema. Versions 1 to 6 are the same changes as SQLite's steps of those numbers, so a
 * schema version means the same tables on both engines; later steps may exist on one engine only. `sql` runs inside
 * the migration's transaction and must not commit.
 */
export interface PgMigration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** The schema this Spillway writes. Append new steps; never edit one that has shipped. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  { version: 1, description: 'create the tables', sql: PG_SCHEMA_V1 },
  { version: 2, description: 'add the ledger, budgets and budget alerts', sql: PG_SCHEMA_V2 },
  {
    version: 3,
    description: 'add registration bounds, registrations and used identity tokens',
    sql: PG_SCHEMA_REGISTRATION,
  },
  { version: 4, description: "keep each launch intent's rendered boot script", sql: PG_SCHEMA_BOOT_SCRIPT },
  { version: 5, description: 'add token scopes (teams, projects)', sql: PG_SCHEMA_SCOPES },
  { version: 6, description: "add agents' isolation and runs' measured use", sql: PG_SCHEMA_ISOLATION },
  {
    version: 7,
    description: 'fence the lease: an epoch, and expiry by the database clock',
    sql: PG_SCHEMA_FENCED_LEASE,
  },
  {
    version: 8,
    description: 'number rows in the order they were written (seq, for rowid)',
    sql: PG_SCHEMA_RECORD_ORDER,
  },
  {
    version: 9,
    description: 'add web console sign-in codes and sessions; index recent intents and tasks by state (SQLite 7 and 8)',
    sql: PG_SCHEMA_CONSOLE,
  },
  {
    version: 10,
    description: "stamp tasks, agents, intents and ledger rows with their writer's transaction id (the change feed)",
    sql: PG_SCHEMA_CHANGE_FEED,
  },
];

/**
 * The advisory lock every migrating process takes for its transaction ('SPIL', 1): a second process waits for the
 * first to commit, then reads the version again and finds nothing left to do.
 */
const MIGRATION_LOCK = [0x5350494c, 1] as const;

/** Which versions a database holds: one row per step applied, with when. */
const VERSION_TABLE = `
CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
)`;

/**
 * Brings the database up to the newest of `migrations` and returns the version it found.
 *
 * - A database newer than the newest migration is refused, changing nothing: an older Spillway must not write a
 *   schema it does not know.
 * - All steps run in one transaction: a failing step leaves the database at its old version (PostgreSQL's DDL is
 *   transactional). There is no backup step as SQLite has: PostgreSQL's own backups are the operator's.
 * - Two processes migrating at once are safe: each holds an advisory lock for its transaction, so the second waits,
 *   reads the version again under the lock, and finds nothing left to do.
 */
export async function migratePostgres(db: PgDb, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number> {
  checkMigrations(migrations);
  const newest = migrations.length;
  return db.transaction(async () => {
    await db.run('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATION_LOCK]);
    await db.run(VERSION_TABLE);
    const found = Number((await db.get('SELECT coalesce(max(version), 0) AS v FROM schema_version'))?.['v'] ?? 0);
    if (found > newest) {
      throw new SpillwayError(
        `opening the PostgreSQL store: its schema is version ${found} but this Spillway knows up to ${newest}; ` +
          'upgrade Spillway',
      );
    }
    for (const migration of migrations.slice(found)) {
      try {
        await db.run(migration.sql);
      } catch (err) {
        throw new SpillwayError(
          `migrating the PostgreSQL store to schema version ${migration.version} (${migration.description}): ` +
            errorMessage(err),
          { cause: err },
        );
      }
      await db.run('INSERT INTO schema_version (version, description) VALUES ($1, $2)', [
        migration.version,
        migration.description,
      ]);
    }
    return found;
  });
}

/** The schema version of the database (0 for an empty one). */
export async function postgresSchemaVersion(db: PgDb): Promise<number> {
  const exists = await db.get("SELECT to_regclass('schema_version') IS NOT NULL AS e");
  if (exists?.['e'] !== true) return 0;
  return Number((await db.get('SELECT coalesce(max(version), 0) AS v FROM schema_version'))?.['v'] ?? 0);
}

function checkMigrations(migrations: readonly PgMigration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new SpillwayError(
        `checking migrations: migration ${index} has version ${migration.version}, expected ${index + 1}`,
      );
    }
  });
}
