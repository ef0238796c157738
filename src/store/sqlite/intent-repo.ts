import { AgentState } from '../../core/agent.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { Intent, IntentState, LaunchIntent, TerminateIntent } from '../../core/intent.ts';
import type { Offering } from '../../core/offering.ts';
import type { OwnerShare } from '../../core/owner.ts';
import type { IntentCursor, IntentRepo } from '../store.ts';
import type { SqliteAgentRepo } from './agent-repo.ts';
import { int, json, text } from './rows.ts';
import { isConstraintError, type Row, type SqliteDb } from './sqlite-db.ts';

/**
 * Launch and terminate decisions, written before the cloud call. Confirming one also records what it did to the pool
 * (new provisioning agents, terminated agents) in the same transaction, so a crash never leaves an instance the store
 * half knows.
 */
export class SqliteIntentRepo implements IntentRepo {
  readonly #db: SqliteDb;
  readonly #agents: SqliteAgentRepo;

  constructor(db: SqliteDb, agents: SqliteAgentRepo) {
    this.#db = db;
    this.#agents = agents;
  }

  /** ConflictError when an intent with this id exists. */
  insert(intent: Intent): void {
    const launch = intent.kind === 'launch' ? intent : undefined;
    this.#db.transaction(() => {
      try {
        this.#db.run(
          `INSERT INTO intents (id, kind, provider_id, offering, count, owners, reason, state, instance_ids,
             created_at_ms, updated_at_ms, attempts, error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        );
      } catch (err) {
        if (!isConstraintError(err)) throw err;
        throw new ConflictError(
          `recording ${intent.kind} intent ${intent.id}: the store refused it (${(err as Error).message})`,
          {
            cause: err,
          },
        );
      }
    });
  }

  get(id: string): Intent | undefined {
    const row = this.#db.get('SELECT * FROM intents WHERE id = ?', id);
    return row === undefined ? undefined : toIntent(row);
  }

  open(): Intent[] {
    return this.#db.all(`SELECT * FROM intents WHERE state = 'pending' ORDER BY created_at_ms, rowid`).map(toIntent);
  }

  /** Oldest first. */
  recent(limit: number, after?: IntentCursor): { intents: Intent[]; next: IntentCursor | null } {
    const rows =
      after === undefined
        ? this.#db.all('SELECT rowid AS seq, * FROM intents ORDER BY created_at_ms DESC, rowid DESC LIMIT ?', limit)
        : this.#db.all(
            `SELECT rowid AS seq, * FROM intents WHERE created_at_ms < ? OR (created_at_ms = ? AND rowid < ?)
             ORDER BY created_at_ms DESC, rowid DESC LIMIT ?`,
            after.createdAtMs,
            after.createdAtMs,
            after.seq,
            limit,
          );
    const last = rows.at(-1);
    const next =
      rows.length === limit && last ? { createdAtMs: int(last, 'created_at_ms'), seq: int(last, 'seq') } : null;
    return { intents: rows.map(toIntent), next };
  }

  launches(sinceMs: number): LaunchIntent[] {
    return this.#db
      .all(`SELECT * FROM intents WHERE kind = 'launch' AND created_at_ms >= ? ORDER BY created_at_ms, rowid`, sinceMs)
      .map((row) => toIntent(row) as LaunchIntent);
  }

  recordAttempt(id: string, error: string, nowMs: number): void {
    this.#db.transaction(() => {
      this.#mustGet(id, `recording an attempt of intent ${id}`);
      this.#db.run(
        'UPDATE intents SET attempts = attempts + 1, error = ?, updated_at_ms = ? WHERE id = ?',
        error,
        nowMs,
        id,
      );
    });
  }

  /** Idempotent: completing again with the same or fewer instance ids changes nothing but the update time. */
  completeLaunch(id: string, instanceIds: readonly string[], nowMs: number): void {
    this.#db.transaction(() => {
      this.#addInstances(id, instanceIds, nowMs, `completing launch intent ${id}`, 'confirmed');
      this.#db.run(`UPDATE intents SET state = 'done', updated_at_ms = ? WHERE id = ?`, nowMs, id);
    });
  }

  fixBootScript(id: string, bootScript: string, nowMs: number): string {
    return this.#db.transaction(() => {
      const intent = this.#mustGet(id, `keeping the boot script of intent ${id}`);
      if (intent.kind !== 'launch')
        throw new ConflictError(`keeping the boot script of intent ${id}: it is a ${intent.kind} intent`);
      if (intent.bootScript !== undefined) return intent.bootScript;
      this.#db.run('UPDATE intents SET boot_script = ?, updated_at_ms = ? WHERE id = ?', bootScript, nowMs, id);
      return bootScript;
    });
  }

  /**
   * An adopted instance's ledger interval starts when its intent was written: its launch's answer was lost, so it
   * may have been billing since then (a budget must not miss that).
   */
  adoptInstances(id: string, instanceIds: readonly string[], nowMs: number): void {
    this.#db.transaction(() => {
      this.#addInstances(id, instanceIds, nowMs, `adopting instances into launch intent ${id}`, 'adopted');
      this.#db.run('UPDATE intents SET updated_at_ms = ? WHERE id = ?', nowMs, id);
    });
  }

  /**
   * Uses the stored intent's provider and instance ids. Each agent of those instances that is not terminated yet
   * becomes terminated, which revokes its tokens and returns its tasks to pending.
   */
  completeTerminate(intent: TerminateIntent, nowMs: number): void {
    this.#db.transaction(() => {
      const doing = `completing terminate intent ${intent.id}`;
      const stored = this.#mustGet(intent.id, doing);
      if (stored.kind !== 'terminate') throw new ConflictError(`${doing}: it is a ${stored.kind} intent`);
      for (const instanceId of stored.instanceIds) {
        const agent = this.#agents.byInstance(stored.providerId, instanceId);
        if (agent === undefined || agent.state === AgentState.terminated) continue;
        this.#agents.setState(
          agent.id,
          AgentState.terminated,
          `terminated by intent ${stored.id}: ${stored.reason}`,
          nowMs,
        );
      }
      this.#db.run(`UPDATE intents SET state = 'done', updated_at_ms = ? WHERE id = ?`, nowMs, stored.id);
    });
  }

  fail(id: string, error: string, nowMs: number): void {
    this.#db.transaction(() => {
      this.#mustGet(id, `failing intent ${id}`);
      this.#db.run(`UPDATE intents SET state = 'failed', error = ?, updated_at_ms = ? WHERE id = ?`, error, nowMs, id);
    });
  }

  /**
   * Merges instance ids into a launch intent (order kept, no duplicates) and adds a provisioning agent for each new one,
   * whose cost runs from now for a confirmed launch, from the intent's writing for an adopted instance.
   */
  #addInstances(
    id: string,
    instanceIds: readonly string[],
    nowMs: number,
    doing: string,
    how: 'confirmed' | 'adopted',
  ): void {
    const intent = this.#mustGet(id, doing);
    if (intent.kind !== 'launch') throw new ConflictError(`${doing}: it is a ${intent.kind} intent`);
    const merged = [...new Set([...intent.instanceIds, ...instanceIds])];
    this.#db.run('UPDATE intents SET instance_ids = ? WHERE id = ?', JSON.stringify(merged), id);
    const { offering } = intent;
    for (const instanceId of merged) {
      if (this.#agents.byInstance(intent.providerId, instanceId) !== undefined) continue;
      this.#agents.insert(
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

  #mustGet(id: string, doing: string): Intent {
    const intent = this.get(id);
    if (intent === undefined) throw new NotFoundError(`${doing}: there is no such intent`);
    return intent;
  }
}

export function toIntent(row: Row): Intent {
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
  return {
    ...common,
    kind: 'launch',
    offering: json<Offering>(row, 'offering'),
    count: int(row, 'count'),
    owners: json<OwnerShare[]>(row, 'owners'),
    ...(typeof row.boot_script === 'string' ? { bootScript: row.boot_script } : {}),
  };
}
