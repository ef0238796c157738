import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { SpillwayError } from '../../src/core/errors.ts';
import { MIGRATIONS, type Migration } from '../../src/store/sqlite/migrations.ts';
import { T0, TempStores, newTask } from './helpers.ts';

describe('sqlite store: migrations', () => {
  let temp: TempStores;

  beforeEach(() => {
    temp = new TempStores();
  });
  afterEach(() => temp.cleanup());

  const addColumn: Migration = {
    version: MIGRATIONS.length + 1,
    description: 'add tasks.note',
    up: (db) => db.exec(`ALTER TABLE tasks ADD COLUMN note TEXT NOT NULL DEFAULT ''`),
  };
  const newer = [...MIGRATIONS, addColumn];

  /** Reads a PRAGMA from the file through a connection of its own. */
  function pragma(path: string, name: string): unknown {
    const db = new DatabaseSync(path);
    try {
      return Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
    } finally {
      db.close();
    }
  }

  const backups = (): string[] => readdirSync(temp.dir).filter((name) => name.includes('.bak-'));

  it('creates a new file, and its folder, at the newest schema in WAL mode without a backup', () => {
    const path = join(temp.dir, 'nested', 'deeper', 'spillway.db');
    temp.open({ path }).tasks.insert([newTask()], T0);
    assert.equal(pragma(path, 'user_version'), MIGRATIONS.length);
    assert.equal(pragma(path, 'journal_mode'), 'wal');
    assert.deepEqual(backups(), []);
  });

  it('refuses a database whose schema is newer than this code knows, leaving it as it is', () => {
    temp.open({ migrations: newer }).close();
    assert.throws(
      () => temp.open({ migrations: [...MIGRATIONS] }),
      (err: unknown) =>
        err instanceof SpillwayError &&
        err.message ===
          `opening ${temp.path}: its schema is version ${newer.length} but this Spillway knows up to ${MIGRATIONS.length}; upgrade Spillway`,
    );
    assert.equal(pragma(temp.path, 'user_version'), newer.length);
  });

  it('backs up an older database before migrating it, and the backup opens with the old data', () => {
    const old = temp.open();
    const [task] = old.tasks.insert([newTask()], T0);
    old.close();

    const migrated = temp.open({ migrations: newer });
    assert.deepEqual(migrated.tasks.get(task!.id), task);
    assert.equal(pragma(temp.path, 'user_version'), newer.length);

    const [backup, ...more] = backups();
    assert.deepEqual(more, []);
    assert.match(backup!, new RegExp(`^spillway\\.db\\.bak-v${MIGRATIONS.length}-\\d{13}$`));
    const backupPath = join(temp.dir, backup!);
    assert.equal(pragma(backupPath, 'user_version'), MIGRATIONS.length);
    assert.deepEqual(temp.open({ path: backupPath }).tasks.get(task!.id), task);
  });

  it('leaves the database at its old version when a migration fails, naming the step', () => {
    const old = temp.open();
    old.tasks.insert([newTask()], T0);
    old.close();
    const broken: Migration = {
      version: MIGRATIONS.length + 1,
      description: 'a broken step',
      up: (db) => {
        db.exec('CREATE TABLE half_done (x)');
        db.exec('THIS IS NOT SQL');
      },
    };
    assert.throws(
      () => temp.open({ migrations: [...MIGRATIONS, broken] }),
      (err: unknown) =>
        err instanceof SpillwayError &&
        err.message.startsWith(`migrating ${temp.path} to schema version ${broken.version} (a broken step): `),
    );
    assert.equal(pragma(temp.path, 'user_version'), MIGRATIONS.length);
    const store = temp.open();
    assert.equal(store.tasks.list().length, 1);
    assert.equal(existsSync(temp.path), true);
  });

  it('refuses a file that is not a database, naming its path', () => {
    writeFileSync(temp.path, 'not a database, just text that is long enough to fill a header page'.repeat(20));
    assert.throws(
      () => temp.open(),
      (err: unknown) => err instanceof SpillwayError && err.message.startsWith(`opening ${temp.path}: `),
    );
  });

  it('rejects a migration list whose versions do not count up from 1', () => {
    assert.throws(
      () => temp.open({ migrations: [...MIGRATIONS, { ...addColumn, version: MIGRATIONS.length + 2 }] }),
      new RegExp(
        `checking migrations: migration ${MIGRATIONS.length} has version ${MIGRATIONS.length + 2}, expected ${MIGRATIONS.length + 1}`,
      ),
    );
  });
});
