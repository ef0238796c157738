import type { RegistrationBounds, RegistrationRepo } from '../store.ts';
import { int, intOrNull, textOrNull } from './rows.ts';
import type { SqliteDb } from './sqlite-db.ts';

/** Registration tokens' bounds, who registered whom, and single-use identity tokens already accepted. */
export class SqliteRegistrationRepo implements RegistrationRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  setBounds(tokenId: string, bounds: RegistrationBounds): void {
    this.#db.run(
      `INSERT INTO registration_bounds (token_id, max_agents, site, expires_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (token_id) DO UPDATE SET max_agents = excluded.max_agents, site = excluded.site,
         expires_at_ms = excluded.expires_at_ms`,
      tokenId,
      bounds.maxAgents,
      bounds.site,
      bounds.expiresAtMs,
    );
  }

  bounds(tokenId: string): RegistrationBounds | undefined {
    const row = this.#db.get(
      'SELECT max_agents, site, expires_at_ms FROM registration_bounds WHERE token_id = ?',
      tokenId,
    );
    if (row === undefined) return undefined;
    return {
      maxAgents: intOrNull(row, 'max_agents'),
      site: textOrNull(row, 'site'),
      expiresAtMs: intOrNull(row, 'expires_at_ms'),
    };
  }

  record(registrationTokenId: string, agentId: string, nowMs: number): void {
    this.#db.run(
      'INSERT INTO registrations (agent_id, registration_token_id, at_ms) VALUES (?, ?, ?)',
      agentId,
      registrationTokenId,
      nowMs,
    );
  }

  count(registrationTokenId: string): number {
    const row = this.#db.get(
      'SELECT COUNT(*) AS n FROM registrations WHERE registration_token_id = ?',
      registrationTokenId,
    );
    return row === undefined ? 0 : int(row, 'n');
  }

  useOnce(tokenHash: string, expiresAtMs: number, nowMs: number): boolean {
    return this.#db.transaction(() => {
      this.#db.run('DELETE FROM identity_tokens_used WHERE expires_at_ms < ?', nowMs);
      const inserted = this.#db.run(
        'INSERT INTO identity_tokens_used (token_hash, expires_at_ms) VALUES (?, ?) ON CONFLICT DO NOTHING',
        tokenHash,
        expiresAtMs,
      );
      return inserted === 1;
    });
  }
}
