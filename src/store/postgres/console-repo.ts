import type { AsyncRepo } from '../async-store.ts';
import type { ConsoleRepo, ConsoleSession } from '../store.ts';
import type { PgDb } from './pg-db.ts';
import { int, text } from './rows.ts';

/** Web console sign-in codes and sessions on PostgreSQL (schema-console.ts), as SqliteConsoleRepo. */
export class PgConsoleRepo implements AsyncRepo<ConsoleRepo> {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async addCode(codeHash: string, tokenId: string, nowMs: number, expiresAtMs: number): Promise<void> {
    await this.#db.transaction(async () => {
      await this.#db.run('DELETE FROM console_codes WHERE expires_at_ms <= $1', [nowMs]);
      await this.#db.run(
        'INSERT INTO console_codes (code_hash, token_id, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)',
        [codeHash, tokenId, nowMs, expiresAtMs],
      );
    });
  }

  /** One UPDATE ... RETURNING: of two requests using one code at once, exactly one gets the token id. */
  async useCode(codeHash: string, nowMs: number): Promise<string | undefined> {
    const row = await this.#db.get(
      `UPDATE console_codes SET used_at_ms = $2
       WHERE code_hash = $1 AND used_at_ms IS NULL AND expires_at_ms > $2
       RETURNING token_id`,
      [codeHash, nowMs],
    );
    return row === undefined ? undefined : text(row, 'token_id');
  }

  async openSession(sessionHash: string, session: ConsoleSession): Promise<void> {
    await this.#db.transaction(async () => {
      await this.#db.run('DELETE FROM console_sessions WHERE expires_at_ms <= $1', [session.createdAtMs]);
      await this.#db.run(
        'INSERT INTO console_sessions (session_hash, token_id, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)',
        [sessionHash, session.tokenId, session.createdAtMs, session.expiresAtMs],
      );
    });
  }

  async session(sessionHash: string, nowMs: number): Promise<ConsoleSession | undefined> {
    const row = await this.#db.get(
      'SELECT token_id, created_at_ms, expires_at_ms FROM console_sessions WHERE session_hash = $1 AND expires_at_ms > $2',
      [sessionHash, nowMs],
    );
    if (row === undefined) return undefined;
    return {
      tokenId: text(row, 'token_id'),
      createdAtMs: int(row, 'created_at_ms'),
      expiresAtMs: int(row, 'expires_at_ms'),
    };
  }

  async closeSession(sessionHash: string): Promise<void> {
    await this.#db.run('DELETE FROM console_sessions WHERE session_hash = $1', [sessionHash]);
  }
}
