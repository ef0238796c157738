import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { POSTGRES_PASSWORD, PostgresServer } from '../../test/helpers/postgres-server.ts';
import { fillPool, fillPoolAsync } from './big-pool.ts';

export type BenchEngine = 'sqlite' | 'postgres';

/**
 * What a store holds, read past the store's own code (SQLite: the file opened anew; PostgreSQL: a client of its own
 * on the server the bench started): proof of which engine a run wrote to.
 */
export interface StoreEvidence {
  /** `SQLite 3.x` or PostgreSQL's `version()`, from the database the rows were read from. */
  readonly engine: string;
  readonly tasks: number;
  readonly intents: number;
  /** Who holds the controller's lease there, if anyone. */
  readonly leaseHolder: string | null;
}

/** A store a benchmark runs on, with the engine's own setup and teardown. */
export interface BenchStore {
  readonly engine: BenchEngine;
  /** The asynchronous port, as `openStore` gives `serve`. */
  readonly store: AsyncStore;
  /** How its server was set up, for the figures' notes. */
  readonly settings: string;
  /** Fills the pool as `fillPool` does (SQLite: through the synchronous store, one transaction). */
  fill(opts: Parameters<typeof fillPool>[1]): Promise<void>;
  evidence(): Promise<StoreEvidence>;
  /** Closes the store, stops the server (PostgreSQL) and deletes every file. */
  close(): Promise<void>;
}

/**
 * Opens a fresh store of `engine` in a temporary folder. SQLite: a file store (WAL, synchronous commits), as `serve`
 * opens it. PostgreSQL: a throwaway server (test/helpers/postgres-server.ts: initdb, Debian's `postgres` user, a Unix
 * socket; fsync, synchronous_commit and full_page_writes off) and the product's `openPostgresStore` on a database of
 * it, migrated, with a password file and `serve`'s default pool of 10 connections.
 */
export async function openBenchStore(engine: BenchEngine): Promise<BenchStore> {
  const dir = mkdtempSync(join(tmpdir(), `spillway-bench-${engine}-`));
  try {
    return engine === 'sqlite' ? sqliteBenchStore(dir) : await postgresBenchStore(dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function sqliteBenchStore(dir: string): BenchStore {
  const path = join(dir, 'spillway.db');
  const sync = openSqliteStore(path);
  const store = asyncSqliteStore(sync);
  return {
    engine: 'sqlite',
    store,
    settings: 'SQLite file, WAL, synchronous commits',
    fill: async (opts) => fillPool(sync, opts),
    evidence: async () => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        const count = (table: string) => Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
        const lease = db.prepare(`SELECT holder FROM lease WHERE name = 'controller'`).get() as
          | { holder: string }
          | undefined;
        const version = db.prepare('SELECT sqlite_version() AS v').get() as { v: string };
        return {
          engine: `SQLite ${version.v}`,
          tasks: count('tasks'),
          intents: count('intents'),
          leaseHolder: lease?.holder ?? null,
        };
      } finally {
        db.close();
      }
    },
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBenchStore(dir: string): Promise<BenchStore> {
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, POSTGRES_PASSWORD, { mode: 0o600 });
  const server = await PostgresServer.start();
  try {
    const database = await server.createDatabase('bench');
    const store = await openPostgresStore({ url: server.url(database), passwordFile, maxConnections: 10 });
    return {
      engine: 'postgres',
      store,
      settings: 'PostgreSQL on a Unix socket, fsync/synchronous_commit/full_page_writes off (the test harness default)',
      fill: (opts) => fillPoolAsync(store, opts),
      evidence: async () => {
        const client = new pg.Client(server.connection(database));
        await client.connect();
        try {
          const count = async (table: string) =>
            Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
          const lease = await client.query<{ holder: string }>(`SELECT holder FROM lease WHERE name = 'controller'`);
          const version = await client.query<{ v: string }>('SELECT version() AS v');
          return {
            engine: version.rows[0]!.v,
            tasks: await count('tasks'),
            intents: await count('intents'),
            leaseHolder: lease.rows[0]?.holder ?? null,
          };
        } finally {
          await client.end();
        }
      },
      close: async () => {
        await store.close();
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
