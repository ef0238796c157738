import { AgentState } from '../../core/agent.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { Intent, IntentState, LaunchIntent, TerminateIntent } from '../../core/intent.ts';
import type { Offering } from '../../core/offering.ts';
import type { OwnerShare } from '../../core/owner.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { IntentCursor, IntentRepo } from '../store.ts';
import type { PgAgentRepo } from './agent-repo.ts';
import { isConstraintError, type PgDb, type PgRow } from './pg-db.ts';
import { int, json, text } from './rows.ts';

/**
 * Launch and terminate decisions, written before the cloud call, on PostgreSQL (as SqliteIntentRepo): confirming one
 * records what it did to the pool in the same transaction. Methods that read an intent before writing it lock its row
 * (FOR UPDATE), so two confirmations of one intent take turns and the second finds the first's instances.
 */
export class PgIntentRepo implements AsyncRepo<IntentRepo> {
  readonly #db: PgDb;
  readonly #agents: PgAgentRepo;

  constructor(db: PgDb, agents: PgAgentRepo) {
    this.#db = db;
    this.#agents = agents;
  }

  /** ConflictError when an intent with this id exists. */
  async insert(intent: Intent): Promise<void> {
    const launch = intent.kind === 'launch' ? intent : undefined;
    try {
      // A savepoint of its own: the failed insert must not abort a caller's transaction.
      await this.#db.transaction(() =>
        this.#db.run(
          `INSERT INTO intents (id, kind, provider_id, offering, count, owners, reason, state, instance_ids,
             created_at_ms, updated_at_ms, attempts, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [
            intent.id,
            intent.kind,
            intent.providerId,
            launch === undefined ? null : JSON.stringify(launch.offering),
            launch === undefined ? null : launch.count,
            launch === undefined ? null : JSON.stringify(launch.owners),
            intent.reason,
            intent.state,
            JSON.stringify(intent.instanceIds),
            intent.createdAtMs,
            intent.updatedAtMs,
            intent.attempts,
            intent.error,
          ],
        ),
      );
    } catch (err) {
      if (!isConstraintError(err)) throw err;
      throw new ConflictError(
        `recording ${intent.kind} intent ${intent.id}: the store refused it (${(err as Error).message})`,
        { cause: err },
      );
    }
  }

  async get(id: string): Promise<Intent | undefined> {
    const row = await this.#db.get('SELECT * FROM intents WHERE id = $1', [id]);
    return row === undefined ? undefined : toIntent(row);
  }

  async open(): Promise<Intent[]> {
    const rows = await this.#db.all(`SELECT * FROM intents WHERE state = 'pending' ORDER BY created_at_ms, seq`);
    return rows.map(toIntent);
  }

  /** Newest first, a page at a time (the decisions listing), as SqliteIntentRepo.recent. */
  async recent(limit: number, after?: IntentCursor): Promise<{ intents: Intent[]; next: IntentCursor | null }> {
    const rows =
      after === undefined
        ? await this.#db.all('SELECT * FROM intents ORDER BY created_at_ms DESC, seq DESC LIMIT $1', [limit])
        : await this.#db.all(
            `SELECT * FROM intents WHERE created_at_ms < $1 OR (created_at_ms = $1 AND seq < $2)
             ORDER BY created_at_ms DESC, seq DESC LIMIT $3`,
            [after.createdAtMs, after.seq, limit],
          );
    const last = rows.at(-1);
    const next =
      rows.length === limit && last ? { createdAtMs: int(last, 'created_at_ms'), seq: int(last, 'seq') } : null;
    return { intents: rows.map(toIntent), next };
  }

  /** Oldest first. */
  async launches(sinceMs: number): Promise<LaunchIntent[]> {
    const rows = await this.#db.all(
      `SELECT * FROM intents WHERE kind = 'launch' AND created_at_ms >= $1 ORDER BY created_at_ms, seq`,
      [sinceMs],
    );
    return rows.map((row) => toIntent(row) as LaunchIntent);
  }

  recordAttempt(id: string, error: string, nowMs: number): Promise<void> {
    return this.#db.transaction(async () => {
      await this.#mustLock(id, `recording an attempt of intent ${id}`);
      await this.#db.run('UPDATE intents SET attempts = attempts + 1, error = $1, updated_at_ms = $2 WHERE id = $3', [
        error,
        nowMs,
        id,
      ]);
    });
  }

  /** Idempotent: completing again with the same or fewer instance ids changes nothing but the update time. */
  completeLaunch(id: string, instanceIds: readonly string[], nowMs: number): Promise<void> {
    return this.#db.transaction(async () => {
      await this.#addInstances(id, instanceIds, nowMs, `completing launch intent ${id}`, 'confirmed');
      await this.#db.run(`UPDATE intents SET state = 'done', updated_at_ms = $1 WHERE id = $2`, [nowMs, id]);
    });
  }

  fixBootScript(id: string, bootScript: string, nowMs: number): Promise<string> {
    return this.#db.transaction(async () => {
      const intent = await this.#mustLock(id, `keeping the boot script of intent ${id}`);
      if (intent.kind !== 'launch') {
        throw new ConflictError(`keeping the boot script of intent ${id}: it is a ${intent.kind} intent`);
      }
      if (intent.bootScript !== undefined) return intent.bootScript;
      await this.#db.run('UPDATE intents SET boot_script = $1, updated_at_ms = $2 WHERE id = $3', [
        bootScript,
        nowMs,
        id,
      ]);
      return bootScript;
    });
  }

  /** An adopted instance's ledger interval starts when its intent was written (see SqliteIntentRepo). */
  adoptInstances(id: string, instanceIds: readonly string[], nowMs: number): Promise<void> {
    return this.#db.transaction(async () => {
      await this.#addInstances(id, instanceIds, nowMs, `adopting instances into launch intent ${id}`, 'adopted');
      await this.#db.run('UPDATE intents SET updated_at_ms = $1 WHERE id = $2', [nowMs, id]);
    });
  }

  /** Each agent of the stored intent's instances that is not terminated yet becomes terminated. */
  completeTerminate(intent: TerminateIntent, nowMs: number): Promise<void> {
    return this.#db.transaction(async () => {
      const doing = `completing terminate intent ${intent.id}`;
      const stored = await this.#mustLock(intent.id, doing);
      if (stored.kind !== 'terminate') throw new ConflictError(`${doing}: it is a ${stored.kind} intent`);
      for (const instanceId of stored.instanceIds) {
        const agent = await this.#agents.byInstance(stored.providerId, instanceId);
        if (agent === undefined || agent.state === AgentState.terminated) continue;
        await this.#agents.setState(
          agent.id,
          AgentState.terminated,
          `terminated by intent ${stored.id}: ${stored.reason}`,
          nowMs,
        );
      }
      await this.#db.run(`UPDATE intents SET state = 'done', updated_at_ms = $1 WHERE id = $2`, [nowMs, stored.id]);
    });
  }

  fail(id: string, error: string, nowMs: number): Promise<void> {
    return this.#db.transaction(async () => {
      await this.#mustLock(id, `failing intent ${id}`);
      await this.#db.run(`UPDATE intents SET state = 'failed', error = $1, updated_at_ms = $2 WHERE id = $3`, [
        error,
        nowMs,
        id,
      ]);
    });
  }

  /** Merges instance ids into a launch intent and adds a provisioning agent for each new one (see SqliteIntentRepo). */
  async #addInstances(
    id: string,
    instanceIds: readonly string[],
    nowMs: number,
    doing: string,
    how: 'confirmed' | 'adopted',
  ): Promise<void> {
    const intent = await this.#mustLock(id, doing);
    if (intent.kind !== 'launch') throw new ConflictError(`${doing}: it is a ${intent.kind} intent`);
    const merged = [...new Set([...intent.instanceIds, ...instanceIds])];
    await this.#db.run('UPDATE intents SET instance_ids = $1 WHERE id = $2', [JSON.stringify(merged), id]);
    const { offering } = intent;
    for (const instanceId of merged) {
      if ((await this.#agents.byInstance(intent.providerId, instanceId)) !== undefined) continue;
      await this.#agents.insert(
        {
          name: instanceId,
          location: { kind: 'cloud', provider: offering.provider, region: offering.region, zone: offering.zone },
          capacity: offering.capacity,
          labels: offering.labels,
          lifecycle: offering.lifecycle,
          pricePerHourMicros: offering.pricePerHourMicros,
          state: AgentState.provisioning,
          instanceId,
          providerId: intent.providerId,
          intentId: intent.id,
        },
        nowMs,
        how === 'adopted' ? intent.createdAtMs : nowMs,
      );
    }
  }

  /** The intent, its row locked until the transaction ends; NotFoundError when there is none. */
  async #mustLock(id: string, doing: string): Promise<Intent> {
    const row = await this.#db.get('SELECT * FROM intents WHERE id = $1 FOR UPDATE', [id]);
    if (row === undefined) throw new NotFoundError(`${doing}: there is no such intent`);
    return toIntent(row);
  }
}

export function toIntent(row: PgRow): Intent {
  const common = {
    id: text(row, 'id'),
    providerId: text(row, 'provider_id'),
    reason: text(row, 'reason'),
    state: text(row, 'state') as IntentState,
    instanceIds: json<string[]>(row, 'instance_ids'),
    createdAtMs: int(row, 'created_at_ms'),
    updatedAtMs: int(row, 'updated_at_ms'),
    attempts: int(row, 'attempts'),
    error: text(row, 'error'),
  };
  if (text(row, 'kind') === 'terminate') return { ...common, kind: 'terminate' };
  const bootScript = row['boot_script'];
  return {
    ...common,
    kind: 'launch',
    offering: json<Offering>(row, 'offering'),
    count: int(row, 'count'),
    owners: json<OwnerShare[]>(row, 'owners'),
    ...(typeof bootScript === 'string' ? { bootScript } : {}),
  };
}
