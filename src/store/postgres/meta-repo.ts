import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { MetaRepo } from '../store.ts';
import type { PgDb } from './pg-db.ts';

const CLUSTER_ID = 'cluster_id';
const SERVER_SECRET = 'server_secret';
const SECRET_BYTES = 32;

/** Keys the store holds once per database: the cluster it belongs to and the server secret (as SqliteMetaRepo). */
export class PgMetaRepo implements AsyncRepo<MetaRepo> {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  /** Two controllers binding at once: the insert that loses the race finds the winner's id and compares with it. */
  async bindClusterId(clusterId: string): Promise<void> {
    await this.#db.run('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
      CLUSTER_ID,
      clusterId,
    ]);
    const stored = await this.#read(CLUSTER_ID);
    if (stored !== clusterId) {
      throw new ConflictError(`opening the store: it belongs to cluster '${stored}', not '${clusterId}'`);
    }
  }

  /** NotFoundError until bindClusterId has run once on this database. */
  async clusterId(): Promise<string> {
    const stored = await this.#read(CLUSTER_ID);
    if (stored === undefined) {
      throw new NotFoundError('reading the cluster id: the store is not bound to a cluster yet');
    }
    return stored;
  }

  /** Created on first use; controllers racing to create it all read back the one that was inserted first. */
  async serverSecret(): Promise<Buffer> {
    const stored = await this.#read(SERVER_SECRET);
    if (stored !== undefined) return Buffer.from(stored, 'hex');
    await this.#db.run('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
      SERVER_SECRET,
      randomBytes(SECRET_BYTES).toString('hex'),
    ]);
    return Buffer.from((await this.#read(SERVER_SECRET)) ?? '', 'hex');
  }

  async #read(key: string): Promise<string | undefined> {
    const row = await this.#db.get('SELECT value FROM meta WHERE key = $1', [key]);
    return row === undefined ? undefined : String(row['value']);
  }
}
