import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, afterEach, before, beforeEach, describe, it } from 'mocha';
import pg from 'pg';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../../src/store/sqlite/migrations.ts';
import { PG_MIGRATIONS, migratePostgres, postgresSchemaVersion } from '../../../src/store/postgres/migrations.ts';
import type { PgDb } from '../../../src/store/postgres/pg-db.ts';
import { PostgresServer } from '../../helpers/postgres-server.ts';
import { waitFor } from '../../helpers/wait.ts';
import { TempDatabases } from './helpers.ts';

/** A column as both engines can describe it: its name, a type family, and whether it takes NULL. */
type Column = `${string}:${string}:${'null' | 'not null'}`;

/** The version up to which PostgreSQL's steps are SQLite's steps. */
const SHARED_VERSIONS = 6;

describe('postgres store: migrations', () => {
  let server: PostgresServer;
  let dbs: TempDatabases;
  let database: string;
  let db: PgDb;

  before(async () => {
    server = await PostgresServer.start();
  });
  after(async () => {
    await server.stop();
  });
  beforeEach(async () => {
    dbs = new TempDatabases(server);
    database = await dbs.create();
    db = dbs.open(database);
  });
  afterEach(async () => {
    await dbs.cleanup();
  });

  it("gives, at version 6, the tables, columns and indexes SQLite's steps 1 to 6 give", async () => {
    const sqlite = new DatabaseSync(':memory:');
    for (const step of SQLITE_MIGRATIONS.slice(0, SHARED_VERSIONS)) step.up(sqlite);
    await migratePostgres(db, PG_MIGRATIONS.slice(0, SHARED_VERSIONS));

    const sqliteTables = sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all()
      .map((row) => String(row['name']));
    const pgTables = (
      await db.all(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_version' ORDER BY table_name",
      )
    ).map((row) => String(row['table_name']));
    assert.deepEqual(pgTables, sqliteTables);
    assert.equal(pgTables.length, 15);

    for (const table of sqliteTables) {
      const fromSqlite = sqlite
        .prepare(`SELECT name, type, "notnull", pk FROM pragma_table_info('${table}') ORDER BY cid`)
        .all()
        .map((row): Column => {
          // SQLite's INTEGER PRIMARY KEY is the rowid: never NULL, whatever the declaration says.
          const notNull = Number(row['notnull']) === 1 || Number(row['pk']) === 1;
          return `${String(row['name'])}:${sqliteFamily(table, String(row['name']), String(row['type']))}:${notNull ? 'not null' : 'null'}`;
        });
      const fromPg = (
        await db.all(
          `SELECT column_name, data_type, is_nullable FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
          [table],
        )
      ).map(
        (row): Column =>
          `${String(row['column_name'])}:${pgFamily(String(row['data_type']))}:${row['is_nullable'] === 'YES' ? 'null' : 'not null'}`,
      );
      assert.deepEqual(fromPg, fromSqlite, `columns of ${table}`);
    }

    const sqliteIndexes = sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
      .all()
      .map((row) => String(row['name']));
    const pgIndexes = new Set(
      (await db.all("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).map((row) =>
        String(row['indexname']),
      ),
    );
    assert.ok(sqliteIndexes.length >= 20);
    for (const index of sqliteIndexes) assert.ok(pgIndexes.has(index), `index ${index} is missing`);
    sqlite.close();
  });

  it("has, at its newest version, every table and index SQLite's newest schema has", async () => {
    // The engines number their later steps apart (PostgreSQL's fenced lease and record order have no SQLite step), so
    // the newest schemas are compared by name: a SQLite step without its PostgreSQL counterpart fails here.
    const sqlite = new DatabaseSync(':memory:');
    for (const step of SQLITE_MIGRATIONS) step.up(sqlite);
    await migratePostgres(db);
    const names = (type: string): string[] =>
      sqlite
        .prepare(`SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' AND sql IS NOT NULL`)
        .all(type)
        .map((row) => String(row['name']));
    const pgTables = new Set(
      (await db.all("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).map((row) =>
        String(row['table_name']),
      ),
    );
    const pgIndexes = new Set(
      (await db.all("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).map((row) =>
        String(row['indexname']),
      ),
    );
    // SQLite-only, on purpose: the revision counter of SQLite's change feed (step 9). SQLite stamps rows with it under
    // its single writer; PostgreSQL stamps them with the writing transaction's id instead (its step 10) and needs no
    // counter. The stamped `rev` columns and their `<table>_by_rev` indexes exist on both.
    const sqliteOnly = (name: string): boolean => name === 'revision';
    assert.ok(names('table').includes('console_sessions'));
    assert.ok(names('table').includes('revision'), 'the exception above still names a SQLite table');
    assert.ok(names('index').includes('tasks_by_rev'), 'the feed indexes are compared');
    for (const table of names('table').filter((n) => !sqliteOnly(n))) {
      assert.ok(pgTables.has(table), `table ${table} is missing`);
    }
    for (const index of names('index').filter((n) => !sqliteOnly(n))) {
      assert.ok(pgIndexes.has(index), `index ${index} is missing`);
    }
    sqlite.close();
  });

  it('records every version it applied and applies nothing the second time', async () => {
    assert.equal(await postgresSchemaVersion(db), 0);
    assert.equal(await migratePostgres(db), 0);
    assert.equal(await postgresSchemaVersion(db), PG_MIGRATIONS.length);
    const versions = (await db.all('SELECT version FROM schema_version ORDER BY version')).map((r) => r['version']);
    assert.deepEqual(
      versions,
      PG_MIGRATIONS.map((m) => m.version),
    );
    assert.equal(await migratePostgres(db), PG_MIGRATIONS.length);
    assert.equal((await db.get('SELECT count(*)::int AS n FROM schema_version'))?.['n'], PG_MIGRATIONS.length);
  });

  it('upgrades an older database step by step from the version it holds', async () => {
    await migratePostgres(db, PG_MIGRATIONS.slice(0, 4));
    await db.run(
      "INSERT INTO tokens (id, role, name, token_hash, created_at_ms) VALUES ('tok-1', 'admin', 'a', 'h', 1)",
    );
    assert.equal(await migratePostgres(db), 4);
    const row = await db.get("SELECT id, teams, projects FROM tokens WHERE id = 'tok-1'");
    assert.deepEqual(row, { id: 'tok-1', teams: null, projects: null });
    assert.equal(await postgresSchemaVersion(db), PG_MIGRATIONS.length);
  });

  it('refuses a database newer than the code and changes nothing', async () => {
    await migratePostgres(db, PG_MIGRATIONS.slice(0, 2));
    await db.run("INSERT INTO schema_version (version, description) VALUES (99, 'from the future')");
    await assert.rejects(
      migratePostgres(db),
      new RegExp(`schema is version 99 but this Spillway knows up to ${PG_MIGRATIONS.length}; upgrade Spillway`),
    );
    const tables = await db.all("SELECT 1 FROM information_schema.tables WHERE table_name = 'registrations'");
    assert.equal(tables.length, 0);
  });

  it('leaves the database at its old version when a step fails', async () => {
    await migratePostgres(db, PG_MIGRATIONS.slice(0, 1));
    const broken = [
      ...PG_MIGRATIONS.slice(0, 2),
      { version: 3, description: 'broken', sql: 'CREATE TABLE budgets (id TEXT)' },
    ];
    await assert.rejects(migratePostgres(db, broken), /migrating the PostgreSQL store to schema version 3 \(broken\)/);
    assert.equal(await postgresSchemaVersion(db), 1);
    const ledger = await db.all("SELECT 1 FROM information_schema.tables WHERE table_name = 'ledger_agents'");
    assert.equal(ledger.length, 0);
  });

  it('lets two processes migrate one database at once: the second waits and finds nothing to do', async () => {
    // Hold the migration lock from a third connection, so both migrations are certainly waiting at the same time.
    const holder = new pg.Client(server.connection(database));
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1, $2)', [0x5350494c, 1]);
      const other = dbs.open(database);
      const both = Promise.allSettled([migratePostgres(db), migratePostgres(other)]);
      await waitFor('both migrations to wait for the lock', async () => {
        const { rows } = await holder.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        return rows[0]?.n === 2;
      });
      await holder.query('COMMIT');
      const results = await both;
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled'],
      );
      const found = results.map((r) => (r.status === 'fulfilled' ? r.value : -1)).sort();
      assert.deepEqual(found, [0, PG_MIGRATIONS.length]);
    } finally {
      await holder.end();
    }
    assert.equal((await db.get('SELECT count(*)::int AS n FROM schema_version'))?.['n'], PG_MIGRATIONS.length);
  });
});

/** SQLite declared types to a family PostgreSQL's types map to as well. */
function sqliteFamily(table: string, column: string, declared: string): string {
  if (table === 'tasks' && column === 'revocable') return 'boolean';
  if (declared === 'INTEGER') return 'integer';
  if (declared === 'REAL') return 'real';
  if (declared === 'TEXT') return 'text';
  return `unknown ${declared}`;
}

function pgFamily(dataType: string): string {
  if (dataType === 'integer' || dataType === 'bigint') return 'integer';
  if (dataType === 'double precision') return 'real';
  if (dataType === 'text') return 'text';
  if (dataType === 'boolean') return 'boolean';
  return `unknown ${dataType}`;
}
