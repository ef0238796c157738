import { NotFoundError } from '../../core/errors.ts';
import type { Policy } from '../../core/policy.ts';
import type { PolicyRepo } from '../store.ts';
import type { SqliteAuditRepo } from './audit-repo.ts';
import { json } from './rows.ts';
import type { SqliteDb } from './sqlite-db.ts';

/** The one stored burst policy. Changes through `set` are audited; the first-start `seed` is not a change. */
export class SqlitePolicyRepo implements PolicyRepo {
  readonly #db: SqliteDb;
  readonly #audit: SqliteAuditRepo;

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
    return row === undefined ? undefined : json<Policy>(row, 'body');
  }
}
