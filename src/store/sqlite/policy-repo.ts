import { NotFoundError } from '../../core/errors.ts';
import type { Policy } from '../../core/policy.ts';
import type { PolicyRepo } from '../store.ts';
import type { SqliteAuditRepo } from './audit-repo.ts';
import { json, text } from './rows.ts';
import type { SqliteDb } from './sqlite-db.ts';

/** The one stored burst policy. Changes through `set` are audited; the first-start `seed` is not a change. */
export class SqlitePolicyRepo implements PolicyRepo {
  readonly #db: SqliteDb;
  readonly #audit: SqliteAuditRepo;
  /** The stored text last read and the policy parsed from it. */
  #last: { readonly body: string; readonly policy: Policy } | undefined;

  constructor(db: SqliteDb, audit: SqliteAuditRepo) {
    this.#db = db;
    this.#audit = audit;
  }

  /** NotFoundError until a policy is seeded or set. */
  get(): Policy {
    const policy = this.#read();
    if (policy === undefined) throw new NotFoundError('reading the policy: none is stored yet; seed or set one first');
    return policy;
  }

  /** Audits `{ actor, action: 'policy.set', detail: { before, after } }`; `before` is null when none was stored. */
  set(policy: Policy, actor: string, nowMs: number): void {
    this.#db.transaction(() => {
      const before = this.#read() ?? null;
      this.#db.run(
        `INSERT INTO policy (id, body, updated_at_ms) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at_ms = excluded.updated_at_ms`,
        JSON.stringify(policy),
        nowMs,
      );
      this.#audit.append({ atMs: nowMs, actor, action: 'policy.set', detail: { before, after: policy } });
    });
  }

  seed(policy: Policy, nowMs: number): boolean {
    return this.#db.transaction(
      () =>
        this.#db.run(
          'INSERT INTO policy (id, body, updated_at_ms) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING',
          JSON.stringify(policy),
          nowMs,
        ) > 0,
    );
  }

  #read(): Policy | undefined {
    const row = this.#db.get('SELECT body FROM policy WHERE id = 1');
    if (row === undefined) return undefined;
    // A pass reads the policy several times and it rarely changes: the same stored text gives the policy parsed from
    // it before (frozen, as Policy's readonly type promises, so no reader can change it for the others).
    const body = text(row, 'body');
    if (this.#last?.body !== body) this.#last = { body, policy: deepFreeze(json<Policy>(row, 'body')) };
    return this.#last.policy;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
