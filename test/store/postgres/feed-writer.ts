import pg from 'pg';
import { T0 } from '../helpers.ts';

/** One session that writes tasks when told, in or out of a transaction. */
export class Writer {
  readonly client: pg.Client;

  private constructor(client: pg.Client) {
    this.client = client;
  }

  static async connect(config: pg.ClientConfig): Promise<Writer> {
    const client = new pg.Client(config);
    await client.connect();
    return new Writer(client);
  }

  async begin(): Promise<void> {
    await this.client.query('BEGIN');
  }

  async commit(): Promise<void> {
    await this.client.query('COMMIT');
  }

  async rollback(): Promise<void> {
    await this.client.query('ROLLBACK');
  }

  async autocommit(fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
    await fn(this.client);
  }

  /** Sets a task's reason unless another open transaction holds its row; whether it did. */
  async setReason(id: string, reason: string): Promise<boolean> {
    const result = await this.client.query(
      `UPDATE tasks SET reason = $1 WHERE id = (SELECT id FROM tasks WHERE id = $2 FOR UPDATE SKIP LOCKED)`,
      [reason, id],
    );
    return result.rowCount === 1;
  }

  /** Cancels a pending task unless another open transaction holds its row; whether it did. */
  async cancel(id: string, reason: string): Promise<boolean> {
    const result = await this.client.query(
      `UPDATE tasks SET state = 'cancelled', reason = $1, finished_at_ms = $2
       WHERE id = (SELECT id FROM tasks WHERE id = $3 AND state = 'pending' FOR UPDATE SKIP LOCKED)`,
      [reason, T0, id],
    );
    return result.rowCount === 1;
  }

  /** Inserts a pending task with this reason; its id. */
  async insertTask(reason: string): Promise<string> {
    const id = `t-raw-${crypto.randomUUID()}`;
    await this.client.query(
      `INSERT INTO tasks (id, state, team, project, job, cpu_millis, memory_mib, gpus, net_mbps, priority, revocable,
         constraints, command, created_at_ms, pending_since_ms, reason)
       VALUES ($1, 'pending', 'ml', 'vision', 'train', 1000, 1024, 0, 0, 0, false, '{}', '["true"]', $2, $2, $3)`,
      [id, T0, reason],
    );
    return id;
  }

  /** The id of the transaction open on this session, as a number (it must have written). */
  async xid(): Promise<number> {
    const { rows } = await this.client.query<{ x: string | null }>(
      'SELECT pg_current_xact_id_if_assigned()::text AS x',
    );
    const x = rows[0]?.x;
    if (x === null || x === undefined) throw new Error('the session has no transaction id');
    return Number(x);
  }

  /** The transaction id of the one other session of this database that has one (epoch 0: small test servers). */
  async otherXid(): Promise<number> {
    const { rows } = await this.client.query<{ x: string }>(
      `SELECT backend_xid::text AS x FROM pg_stat_activity
       WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()`,
    );
    if (rows.length !== 1) throw new Error(`expected one other session with a transaction id, found ${rows.length}`);
    return Number(rows[0]!.x);
  }

  async end(): Promise<void> {
    await this.client.end();
  }
}
