import { NotFoundError } from '../../core/errors.ts';
import type { Policy } from '../../core/policy.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { PolicyRepo } from '../store.ts';
import type { PgAuditRepo } from './audit-repo.ts';
import type { PgDb } from './pg-db.ts';
import { json } from './rows.ts';

/**
 * The one stored burst policy (as SqlitePolicyRepo). `set` takes a transaction-scoped advisory lock first, so two
 * changes at once take turns and each audit entry's `before` is what the other left.
 */
export class PgPolicyRepo implements AsyncRepo<PolicyRepo> {
  readonly #db: PgDb;
  readonly #audit: PgAuditRepo;

  constructor(db: PgDb, audit: PgAuditRepo) {
    this.#db = db;
    this.#audit = audit;
  }

  /** NotFoundError until a policy is seeded or set. */
  async get(): Promise<Policy> {
    const policy = await this.#read();
    if (policy === undefined) throw new NotFoundError('reading the policy: none is stored yet; seed or set one first');
    return policy;
  }

  /** Audits `{ actor, action: 'policy.set', detail: { before, after } }`; `before` is null when none was stored. */
  set(policy: Policy, actor: string, nowMs: number): Promise<void> {
    return this.#db.transaction(async () => {
      await this.#db.run("SELECT pg_advisory_xact_lock(hashtext('spillway.policy'))");
      const before = (await this.#read()) ?? null;
      await this.#db.run(
        `INSERT INTO policy (id, body, updated_at_ms) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at_ms = excluded.updated_at_ms`,
        [JSON.stringify(policy), nowMs],
      );
      await this.#audit.append({ atMs: nowMs, actor, action: 'policy.set', detail: { before, after: policy } });
    });
  }

  async seed(policy: Policy, nowMs: number): Promise<boolean> {
    const written = await this.#db.run(
      'INSERT INTO policy (id, body, updated_at_ms) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
      [JSON.stringify(policy), nowMs],
    );
    return written > 0;
  }

  async #read(): Promise<Policy | undefined> {
    const row = await this.#db.get('SELECT body FROM policy WHERE id = 1');
    return row === undefined ? undefined : json<Policy>(row, 'body');
  }
}
