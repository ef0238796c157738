import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { TeamScope } from '../../core/team-scope.ts';
import type { Role, TokenRecord, TokenRepo } from '../store.ts';
import { int, intOrNull, text, textOrNull } from './rows.ts';
import { isConstraintError, type Row, type SqliteDb } from './sqlite-db.ts';

const COLUMNS = 'id, role, name, agent_id, created_at_ms, revoked_at_ms, teams, projects';

/** API tokens, by the SHA-256 of their secret; the secret itself never reaches the store. */
export class SqliteTokenRepo implements TokenRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  /** ConflictError when the id or the hash is already stored. */
  create(record: Omit<TokenRecord, 'revokedAtMs'>, tokenHash: string): TokenRecord {
    return this.#db.transaction(() => {
      try {
        this.#db.run(
          `INSERT INTO tokens (id, role, name, agent_id, token_hash, created_at_ms, teams, projects)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          record.id,
          record.role,
          record.name,
          record.agentId,
          tokenHash,
          record.createdAtMs,
          record.scope === undefined ? null : JSON.stringify(record.scope.teams),
          record.scope?.projects === undefined ? null : JSON.stringify(record.scope.projects),
        );
      } catch (err) {
        if (!isConstraintError(err)) throw err;
        throw new ConflictError(`creating token ${record.id}: a token with this id or secret exists`, { cause: err });
      }
      return this.#mustGet(record.id, `creating token ${record.id}`);
    });
  }

  byHash(tokenHash: string): TokenRecord | undefined {
    const row = this.#db.get(`SELECT ${COLUMNS} FROM tokens WHERE token_hash = ?`, tokenHash);
    return row === undefined ? undefined : toToken(row);
  }

  get(id: string): TokenRecord | undefined {
    const row = this.#db.get(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`, id);
    return row === undefined ? undefined : toToken(row);
  }

  /** Oldest first. */
  list(): TokenRecord[] {
    return this.#db.all(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at_ms, rowid`).map(toToken);
  }

  /** Keeps the first revocation time when revoked twice. */
  revoke(id: string, nowMs: number): TokenRecord {
    return this.#db.transaction(() => {
      const doing = `revoking token ${id}`;
      this.#mustGet(id, doing);
      this.#db.run('UPDATE tokens SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL', nowMs, id);
      return this.#mustGet(id, doing);
    });
  }

  revokeForAgent(agentId: string, nowMs: number): void {
    this.#db.transaction(() => {
      this.#db.run('UPDATE tokens SET revoked_at_ms = ? WHERE agent_id = ? AND revoked_at_ms IS NULL', nowMs, agentId);
    });
  }

  #mustGet(id: string, doing: string): TokenRecord {
    const token = this.get(id);
    if (token === undefined) throw new NotFoundError(`${doing}: there is no such token`);
    return token;
  }
}

function toToken(row: Row): TokenRecord {
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
