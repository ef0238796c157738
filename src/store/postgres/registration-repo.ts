import type { AsyncRepo } from '../async-store.ts';
import type { RegistrationBounds, RegistrationRepo } from '../store.ts';
import type { PgDb } from './pg-db.ts';
import { int, intOrNull, textOrNull } from './rows.ts';

/** Registration tokens' bounds, who registered whom, and single-use identity tokens already accepted. */
export class PgRegistrationRepo implements AsyncRepo<RegistrationRepo> {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async setBounds(tokenId: string, bounds: RegistrationBounds): Promise<void> {
    await this.#db.run(
      `INSERT INTO registration_bounds (token_id, max_agents, site, expires_at_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (token_id) DO UPDATE SET max_agents = excluded.max_agents, site = excluded.site,
         expires_at_ms = excluded.expires_at_ms`,
      [tokenId, bounds.maxAgents, bounds.site, bounds.expiresAtMs],
    );
  }

  async bounds(tokenId: string): Promise<RegistrationBounds | undefined> {
    const row = await this.#db.get(
      'SELECT max_agents, site, expires_at_ms FROM registration_bounds WHERE token_id = $1',
      [tokenId],
    );
    if (row === undefined) return undefined;
    return {
      maxAgents: intOrNull(row, 'max_agents'),
      site: textOrNull(row, 'site'),
      expiresAtMs: intOrNull(row, 'expires_at_ms'),
    };
  }

  async record(registrationTokenId: string, agentId: string, nowMs: number): Promise<void> {
    await this.#db.run('INSERT INTO registrations (agent_id, registration_token_id, at_ms) VALUES ($1, $2, $3)', [
      agentId,
      registrationTokenId,
      nowMs,
    ]);
  }

  /**
   * Inside a transaction, first locks the token's row (FOR UPDATE) until the transaction ends: under READ COMMITTED,
   * two controllers checking one token's `maxAgents` at once would otherwise both count the same total and both
   * record an agent. The second now waits, then counts the first's committed registration (each statement reads the
   * newest committed data).
   */
  async count(registrationTokenId: string): Promise<number> {
    if (this.#db.inTransaction) {
      await this.#db.get('SELECT id FROM tokens WHERE id = $1 FOR UPDATE', [registrationTokenId]);
    }
    const row = await this.#db.get('SELECT count(*) AS n FROM registrations WHERE registration_token_id = $1', [
      registrationTokenId,
    ]);
    return row === undefined ? 0 : int(row, 'n');
  }

  /** Two controllers accepting one token at once: the unique key lets exactly one insert win. */
  useOnce(tokenHash: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    return this.#db.transaction(async () => {
      await this.#db.run('DELETE FROM identity_tokens_used WHERE expires_at_ms < $1', [nowMs]);
      const inserted = await this.#db.run(
        'INSERT INTO identity_tokens_used (token_hash, expires_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [tokenHash, expiresAtMs],
      );
      return inserted === 1;
    });
  }
}
