import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { MetaRepo } from '../store.ts';
import { text } from './rows.ts';
import type { SqliteDb } from './sqlite-db.ts';

const CLUSTER_ID = 'cluster_id';
const SERVER_SECRET = 'server_secret';
const SECRET_BYTES = 32;

/** Keys the store holds once per file: the cluster it belongs to and the server secret. */
export class SqliteMetaRepo implements MetaRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  bindClusterId(clusterId: string): void {
    this.#db.transaction(() => {
      const stored = this.#read(CLUSTER_ID);
      if (stored === undefined) this.#db.run('INSERT INTO meta (key, value) VALUES (?, ?)', CLUSTER_ID, clusterId);
      else if (stored !== clusterId) {
        throw new ConflictError(`opening the store: it belongs to cluster '${stored}', not '${clusterId}'`);
      }
    });
  }

  /** NotFoundError until bindClusterId has run once on this file. */
  clusterId(): string {
    const stored = this.#read(CLUSTER_ID);
    if (stored === undefined)
      throw new NotFoundError('reading the cluster id: the store is not bound to a cluster yet');
    return stored;
  }

  /** Created on first use under the write lock, so two processes sharing the file agree on one secret. */
  serverSecret(): Buffer {
    const hex =
      this.#read(SERVER_SECRET) ??
      this.#db.transaction(() => {
        this.#db.run(
          'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING',
          SERVER_SECRET,
          randomBytes(SECRET_BYTES).toString('hex'),
        );
        return this.#read(SERVER_SECRET);
      });
    return Buffer.from(hex ?? '', 'hex');
  }

  #read(key: string): string | undefined {
    const row = this.#db.get('SELECT value FROM meta WHERE key = ?', key);
    return row === undefined ? undefined : text(row, 'value');
  }
}
