import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { TeamScope } from '../../core/team-scope.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { Role, TokenRecord, TokenRepo } from '../store.ts';
import { isConstraintError, type PgDb, type PgRow } from './pg-db.ts';
import { int, intOrNull, text, textOrNull } from './rows.ts';

const COLUMNS = 'id, role, name, agent_id, created_at_ms, revoked_at_ms, teams, projects';

/** API tokens, by the SHA-256 of their secret, on PostgreSQL (as SqliteTokenRepo). */
export class PgTokenRepo implements AsyncRepo<TokenRepo> {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  /** ConflictError when the id or the hash is already stored. */
  create(record: Omit<TokenRecord, 'revokedAtMs'>, tokenHash: string): Promise<TokenRecord> {
    return this.#db.transaction(async () => {
      try {
        // A savepoint of its own: the failed insert must not abort a caller's transaction.
        await this.#db.transaction(() =>
          this.#db.run(
            `INSERT INTO tokens (id, role, name, agent_id, token_hash, created_at_ms, teams, projects)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [
              record.id,
              record.role,
              record.name,
              record.agentId,
              tokenHash,
              record.createdAtMs,
              record.scope === undefined ? null : JSON.stringify(record.scope.teams),
              record.scope?.projects === undefined ? null : JSON.stringify(record.scope.projects),
            ],
          ),
        );
      } catch (err) {
        if (!isConstraintError(err)) throw err;
        throw new ConflictError(`creating token ${record.id}: a token with this id or secret exists`, { cause: err });
      }
      return this.#mustGet(record.id, `creating token ${record.id}`);
    });
  }

  async byHash(tokenHash: string): Promise<TokenRecord | undefined> {
    const row = await this.#db.get(`SELECT ${COLUMNS} FROM tokens WHERE token_hash = $1`, [tokenHash]);
    return row === undefined ? undefined : toToken(row);
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    const row = await this.#db.get(`SELECT ${COLUMNS} FROM tokens WHERE id = $1`, [id]);
    return row === undefined ? undefined : toToken(row);
  }

  /** Oldest first. */
  async list(): Promise<TokenRecord[]> {
    return (await this.#db.all(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at_ms, seq`)).map(toToken);
  }

  /** Keeps the first revocation time when revoked twice. */
  revoke(id: string, nowMs: number): Promise<TokenRecord> {
    return this.#db.transaction(async () => {
      const doing = `revoking token ${id}`;
      await this.#mustGet(id, doing);
      await this.#db.run('UPDATE tokens SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL', [nowMs, id]);
      return this.#mustGet(id, doing);
    });
  }

  async revokeForAgent(agentId: string, nowMs: number): Promise<void> {
    await this.#db.run('UPDATE tokens SET revoked_at_ms = $1 WHERE agent_id = $2 AND revoked_at_ms IS NULL', [
      nowMs,
      agentId,
    ]);
  }

  async #mustGet(id: string, doing: string): Promise<TokenRecord> {
    const token = await this.get(id);
    if (token === undefined) throw new NotFoundError(`${doing}: there is no such token`);
    return token;
  }
}

function toToken(row: PgRow): TokenRecord {
  const record: TokenRecord = {
    id: text(row, 'id'),
    role: text(row, 'role') as Role,
    name: text(row, 'name'),
    agentId: textOrNull(row, 'agent_id'),
    createdAtMs: int(row, 'created_at_ms'),
    revokedAtMs: intOrNull(row, 'revoked_at_ms'),
  };
  const teams = textOrNull(row, 'teams');
  if (teams === null) return record;
  const projects = textOrNull(row, 'projects');
  const scope: TeamScope = {
    teams: JSON.parse(teams) as string[],
    ...(projects === null ? {} : { projects: JSON.parse(projects) as string[] }),
  };
  return { ...record, scope };
}
