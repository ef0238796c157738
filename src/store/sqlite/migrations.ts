import type { DatabaseSync } from 'node:sqlite';
import { SpillwayError, errorMessage } from '../../core/errors.ts';
import { SCHEMA_V1 } from './schema-v1.ts';
import { SCHEMA_V2 } from './schema-v2.ts';
import { SCHEMA_REGISTRATION } from './schema-registration.ts';
import { SCHEMA_BOOT_SCRIPT } from './schema-boot-script.ts';
import { SCHEMA_SCOPES } from './schema-scopes.ts';
import { SCHEMA_ISOLATION } from './schema-isolation.ts';
import { SCHEMA_CONSOLE } from './schema-console.ts';
import { SCHEMA_LISTING } from './schema-listing.ts';
import { SCHEMA_REVISION } from './schema-revision.ts';
import { SCHEMA_LEASE_EPOCH } from './schema-lease-epoch.ts';

/**
 * One step of the schema. `version` is the `PRAGMA user_version` the database has after `up` ran; the versions of a
 * migration list are 1, 2, 3... in order. `up` runs inside the migration's transaction and must not commit.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly up: (db: DatabaseSync) => void;
}

/** The schema this Spillway writes. Append new steps; never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'create the tables', up: (db) => db.exec(SCHEMA_V1) },
  { version: 2, description: 'add the ledger, budgets and budget alerts', up: (db) => db.exec(SCHEMA_V2) },
  {
    version: 3,
    description: 'add registration bounds, registrations and used identity tokens',
    up: (db) => db.exec(SCHEMA_REGISTRATION),
  },
  { version: 4, description: "keep each launch intent's rendered boot script", up: (db) => db.exec(SCHEMA_BOOT_SCRIPT) },
  { version: 5, description: 'add token scopes (teams, projects)', up: (db) => db.exec(SCHEMA_SCOPES) },
  { version: 6, description: "add agents' isolation and runs' measured use", up: (db) => db.exec(SCHEMA_ISOLATION) },
  { version: 7, description: 'add web console sign-in codes and sessions', up: (db) => db.exec(SCHEMA_CONSOLE) },
  { version: 8, description: 'index tasks by state in listing order', up: (db) => db.exec(SCHEMA_LISTING) },
  {
    version: 9,
    description: 'stamp tasks, agents and intents with revisions for the in-memory model',
    up: (db) => db.exec(SCHEMA_REVISION),
  },
  { version: 10, description: "add the lease's fencing epoch", up: (db) => db.exec(SCHEMA_LEASE_EPOCH) },
];

/**
 * Brings the database at `path` up to the newest of `migrations`.
 *
 * - A database newer than the newest migration is refused: an older Spillway must not write a schema it does not know.
 * - A database that already has a schema is first copied to `<path>.bak-v<from>-<epochMs>` (`VACUUM INTO`, a
 *   consistent copy even while other processes read), so a failed or unwanted upgrade can be undone by hand.
 * - All steps run in one transaction: a failing step leaves the database at its old version.
 *
 * Two processes opening one file at once are safe: the version is read again under the write lock, and the second
 * finds nothing left to do.
 */
export function migrate(db: DatabaseSync, path: string, migrations: readonly Migration[]): void {
  checkMigrations(migrations);
  const newest = migrations.length;
  const found = userVersion(db);
  if (found > newest) {
    throw new SpillwayError(
      `opening ${path}: its schema is version ${found} but this Spillway knows up to ${newest}; upgrade Spillway`,
    );
  }
  if (found === newest) return;
  if (found > 0 && path !== ':memory:') backUp(db, path, found);

  db.exec('BEGIN IMMEDIATE');
  try {
    const from = userVersion(db);
    for (const migration of migrations.slice(from)) {
      try {
        migration.up(db);
      } catch (err) {
        throw new SpillwayError(
          `migrating ${path} to schema version ${migration.version} (${migration.description}): ${errorMessage(err)}`,
          { cause: err },
        );
      }
      db.exec(`PRAGMA user_version = ${migration.version}`);
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/** The path of the backup taken before migrating `path` from version `from` at `epochMs`. */
export function backupPath(path: string, from: number, epochMs: number): string {
  return `${path}.bak-v${from}-${epochMs}`;
}

function backUp(db: DatabaseSync, path: string, from: number): void {
  const target = backupPath(path, from, Date.now());
  try {
    db.prepare('VACUUM INTO ?').run(target);
  } catch (err) {
    throw new SpillwayError(`backing up ${path} to ${target} before migrating: ${errorMessage(err)}`, { cause: err });
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get();
  return Number(row?.['user_version'] ?? 0);
}

function checkMigrations(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new SpillwayError(
        `checking migrations: migration ${index} has version ${migration.version}, expected ${index + 1}`,
      );
    }
  });
}
