import type { ConsoleRepo, ConsoleSession } from '../store.ts';
import { int, text } from './rows.ts';
import type { SqliteDb } from './sqlite-db.ts';

/** Web console sign-in codes and sessions (schema-console.ts). */
export class SqliteConsoleRepo implements ConsoleRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  addCode(codeHash: string, tokenId: string, nowMs: number, expiresAtMs: number): void {
    this.#db.transaction(() => {
      this.#db.run('DELETE FROM console_codes WHERE expires_at_ms <= ?', nowMs);
      this.#db.run(
        'INSERT INTO console_codes (code_hash, token_id, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)',
        codeHash,
        tokenId,
        nowMs,
        expiresAtMs,
      );
    });
  }

  useCode(codeHash: string, nowMs: number): string | undefined {
    return this.#db.transaction(() => {
      const row = this.#db.get(
        'SELECT token_id FROM console_codes WHERE code_hash = ? AND used_at_ms IS NULL AND expires_at_ms > ?',
        codeHash,
        nowMs,
      );
      if (row === undefined) return undefined;
      this.#db.run('UPDATE console_codes SET used_at_ms = ? WHERE code_hash = ?', nowMs, codeHash);
      return text(row, 'token_id');
    });
  }

  openSession(sessionHash: string, session: ConsoleSession): void {
    this.#db.transaction(() => {
      this.#db.run('DELETE FROM console_sessions WHERE expires_at_ms <= ?', session.createdAtMs);
      this.#db.run(
        'INSERT INTO console_sessions (session_hash, token_id, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)',
        sessionHash,
        session.tokenId,
        session.createdAtMs,
        session.expiresAtMs,
      );
    });
  }

  session(sessionHash: string, nowMs: number): ConsoleSession | undefined {
    const row = this.#db.get(
      'SELECT token_id, created_at_ms, expires_at_ms FROM console_sessions WHERE session_hash = ? AND expires_at_ms > ?',
      sessionHash,
      nowMs,
    );
    if (row === undefined) return undefined;
    return {
      tokenId: text(row, 'token_id'),
      createdAtMs: int(row, 'created_at_ms'),
      expiresAtMs: int(row, 'expires_at_ms'),
    };
  }

  closeSession(sessionHash: string): void {
    this.#db.run('DELETE FROM console_sessions WHERE session_hash = ?', sessionHash);
  }
}
