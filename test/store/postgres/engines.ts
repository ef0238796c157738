import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe } from 'mocha';
import pg from 'pg';
import type { AsyncStore } from '../../../src/store/async-store.ts';
import type { AsyncChangeRepo } from '../../../src/store/postgres/change-repo.ts';
import { openPostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { asyncSqliteStore } from '../../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import type { ChangeRepo } from '../../../src/store/store.ts';
import { POSTGRES_PASSWORD, PostgresServer } from '../../helpers/postgres-server.ts';

/** What the contract tests exercise: the asynchronous port, which both engines implement. */
export type ContractStore = AsyncStore;

/**
 * One engine behind the asynchronous port. Each test gets fresh data (`fresh`); `open` gives another handle on that
 * same data (another SQLite connection to the file, another PostgreSQL pool on the database), as a second controller
 * process would have. Every handle is closed after the test.
 */
export interface Engine {
  readonly name: string;
  /**
   * `open`, with the store's change feed through the asynchronous port (SQLite's synchronous ChangeRepo wrapped; the
   * feed is not part of AsyncStore yet).
   */
  openWithFeed(): Promise<{ readonly store: ContractStore; readonly changes: AsyncChangeRepo }>;
  open(): Promise<ContractStore>;
  /**
   * How many sessions on this test's data wait for a lock now (PostgreSQL); always 0 on SQLite, whose one handle per
   * process queues its transactions in the process instead.
   */
  lockWaiters(): Promise<number>;
}

export interface EngineSetup extends Engine {
  start(): Promise<void>;
  fresh(): Promise<void>;
  closeAll(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Registers `body`'s cases once per engine: the SQLite store through its async adapter, and the PostgreSQL store on a
 * server started once for the file. The cases take expected values from themselves, never from either engine.
 */
export function describeEachEngine(title: string, body: (engine: () => Engine) => void): void {
  for (const make of [sqliteEngine, postgresEngine]) {
    const engine = make();
    describe(`${title} (${engine.name})`, () => {
      before(() => engine.start());
      after(() => engine.stop());
      beforeEach(() => engine.fresh());
      afterEach(() => engine.closeAll());
      body(() => engine);
    });
  }
}

export function sqliteEngine(): EngineSetup {
  let dir = '';
  let path = '';
  let count = 0;
  const open: ContractStore[] = [];
  return {
    name: 'sqlite',
    async start() {
      dir = mkdtempSync(join(tmpdir(), 'spillway-contract-'));
    },
    async fresh() {
      count += 1;
      path = join(dir, `store-${count}.db`);
    },
    async openWithFeed() {
      const sync = openSqliteStore(path);
      const store = asyncSqliteStore(sync);
      open.push(store);
      return { store, changes: asyncChangeRepo(sync.changes) };
    },
    async open() {
      const store = asyncSqliteStore(openSqliteStore(path));
      open.push(store);
      return store;
    },
    async lockWaiters() {
      return 0;
    },
    async closeAll() {
      for (const store of open.splice(0)) await store.close();
    },
    async stop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One PostgreSQL server for the whole mocha run, started by the first engine that needs it and stopped after the last
 * test (a root-level hook: this module is loaded once however many files import it), with a migrated template
 * database that each test's fresh database copies.
 */
let shared: Promise<{ server: PostgresServer; template: string; passwordFile: string; dir: string }> | undefined;

function sharedServer(): NonNullable<typeof shared> {
  shared ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spillway-contract-pg-'));
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, POSTGRES_PASSWORD, { mode: 0o600 });
    // No autovacuum: a background ANALYZE holds a transaction id while it runs, which holds the change feed's
    // watermark (see PgChangeRepo) and would make a test that expects a just-committed row at once flaky.
    const server = await PostgresServer.start({ settings: { autovacuum: 'off' } });
    const template = await server.createDatabase('contract_template');
    const store = await openPostgresStore({ url: server.url(template), passwordFile, maxConnections: 1 });
    await store.close();
    return { server, template, passwordFile, dir };
  })();
  return shared;
}

after(async () => {
  if (shared === undefined) return;
  const { server, dir } = await shared;
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

export function postgresEngine(): EngineSetup {
  let database = '';
  const open: ContractStore[] = [];
  return {
    name: 'postgres',
    async start() {
      await sharedServer();
    },
    async fresh() {
      const { server, template } = await sharedServer();
      database = await server.createDatabase('contract', template);
    },
    async open() {
      return (await this.openWithFeed()).store;
    },
    async openWithFeed() {
      const { server, passwordFile } = await sharedServer();
      const store = await openPostgresStore({ url: server.url(database), passwordFile, maxConnections: 4 });
      open.push(store);
      return { store, changes: store.changes };
    },
    async lockWaiters() {
      const { server } = await sharedServer();
      const client = new pg.Client(server.connection(database));
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return rows[0]?.n ?? 0;
      } finally {
        await client.end();
      }
    },
    async closeAll() {
      for (const store of open.splice(0)) await store.close();
      // Each test's database goes with it: a run creates a few hundred, about 8 MB each (2.2 GB at the end of a run
      // otherwise, written to disk and removed by the root hook).
      if (database === '') return;
      const { server } = await sharedServer();
      const client = new pg.Client(server.connection());
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
    async stop() {
      // The shared server outlives each describe block; the root hook stops it.
    },
  };
}

/** SQLite's synchronous change feed behind the asynchronous port's shape: each call runs at once and settles. */
function asyncChangeRepo(changes: ChangeRepo): AsyncChangeRepo {
  return {
    revision: async () => changes.revision(),
    current: async () => changes.current(),
    currentSlice: async (afterSeq, span) => changes.currentSlice(afterSeq, span),
    since: async (rev, limit) => changes.since(rev, limit),
    ledgerOverlapping: async (fromMs, toMs) => changes.ledgerOverlapping(fromMs, toMs),
    ledgerSince: async (rev) => changes.ledgerSince(rev),
  };
}
