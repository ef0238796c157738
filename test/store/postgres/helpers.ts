import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresPool } from '../../../src/store/postgres/pg-connection.ts';
import { PgDb } from '../../../src/store/postgres/pg-db.ts';
import { POSTGRES_PASSWORD, type PostgresServer } from '../../helpers/postgres-server.ts';

/**
 * Databases of one test server, opened through the store's own connection module (URL plus a password file), each
 * closed by `cleanup`.
 */
export class TempDatabases {
  readonly #server: PostgresServer;
  readonly #dir = mkdtempSync(join(tmpdir(), 'spillway-pgtest-'));
  readonly passwordFile = join(this.#dir, 'password');
  readonly #open: PgDb[] = [];

  constructor(server: PostgresServer) {
    this.#server = server;
    writeFileSync(this.passwordFile, `${POSTGRES_PASSWORD}\n`, { mode: 0o600 });
  }

  /** A fresh database's name. */
  create(): Promise<string> {
    return this.#server.createDatabase();
  }

  /** A new pool on `database`. */
  open(database: string, maxConnections = 4): PgDb {
    const db = new PgDb(
      openPostgresPool({ url: this.#server.url(database), passwordFile: this.passwordFile, maxConnections }),
    );
    this.#open.push(db);
    return db;
  }

  async cleanup(): Promise<void> {
    for (const db of this.#open.splice(0)) await db.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
