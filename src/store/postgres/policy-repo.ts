import { NotFoundError } from '../../core/errors.ts';
import type { Policy } from '../../core/policy.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { PolicyRepo } from '../store.ts';
import type { PgAuditRepo } from './audit-repo.ts';
import type { PgDb } from './pg-db.ts';
import { json } from './rows.ts';

/** The advisory lock that orders the policy's readers and writers (see `get` and `set`). */
const POLICY_LOCK = "hashtext('spillway.policy')";

/**
 * The one stored burst policy (as SqlitePolicyRepo). `set` takes a transaction-scoped advisory lock first, so two
 * changes at once take turns and each audit entry's `before` is what the other left. Inside a transaction, `get`
 * takes the same lock shared, so a read followed by `set` in one transaction (the API's pause, resume and policy
 * replacement keep fields they read) cannot lose another controller's change made in between.
 */
export class PgPolicyRepo implements AsyncRepo<PolicyRepo> {
  readonly #db: PgDb;
  readonly #audit: PgAuditRepo;

  constructor(db: PgDb, audit: PgAuditRepo) {
    this.#db = db;
    this.#audit = audit;
  }

  /**
   * NotFoundError until a policy is seeded or set. Inside a transaction, first takes the policy's lock shared until
   * the transaction ends: readers never wait for each other (every agent's pull reads the policy), only for a `set`
   * in progress, and a `set` waits for every transaction that read the policy before it. Under READ COMMITTED two
   * transactions could otherwise both read the policy, each change a field and write it back, and the second would
   * undo the first (a PUT /v1/policy undoing a pause). Of two transactions that read and then set at once, one now
   * waits for the other, and when both read before either writes, PostgreSQL refuses one of them (deadlock
   * detected: a retryable PostgresStoreError, nothing of it kept); neither change is lost.
   */
  async get(): Promise<Policy> {
    if (this.#db.inTransaction) await this.#db.run(`SELECT pg_advisory_xact_lock_shared(${POLICY_LOCK})`);
    const policy = await this.#read();
    if (policy === undefined) throw new NotFoundError('reading the policy: none is stored yet; seed or set one first');
    return policy;
  }

  /** Audits `{ actor, action: 'policy.set', detail: { before, after } }`; `before` is null when none was stored. */
  set(policy: Policy, actor: string, nowMs: number): Promise<void> {
    return this.#db.transaction(async () => {
      await this.#db.run(`SELECT pg_advisory_xact_lock(${POLICY_LOCK})`);
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
