import type { Agent, Lifecycle } from '../../core/agent.ts';
import type { Location } from '../../core/location.ts';
import type { Offering } from '../../core/offering.ts';
import type { OwnerShare } from '../../core/owner.ts';
import { dominantShare, type Resources } from '../../core/resources.ts';
import type { Task } from '../../core/task.ts';
import type { AgentInterval, LedgerSlice, MeasuredUse, UsageInterval } from '../../cost-model/ledger.ts';
import type { MeasuredRun } from '../../cost-model/measured-use.ts';
import type { LedgerRepo } from '../store.ts';
import { int, intOrNull, json, resourcesOf, text, textOrNull } from './rows.ts';
import type { Row, SqliteDb } from './sqlite-db.ts';

/**
 * The cost ledger's intervals. The other repositories call the helpers below inside their own transactions (see
 * LedgerRepo), so an interval is written or closed in the same commit as the state change it records.
 */
export class SqliteLedgerRepo implements LedgerRepo {
  readonly #db: SqliteDb;

  constructor(db: SqliteDb) {
    this.#db = db;
  }

  openAgentInterval(interval: Omit<AgentInterval, 'endMs'>): void {
    this.#db.run(
      `INSERT INTO ledger_agents (agent_id, name, location, provider, provider_id, instance_id, instance_type, lifecycle,
         price_per_hour_micros, cpu_millis, memory_mib, gpus, net_mbps, intent_id, owners, start_ms, end_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT (agent_id) DO NOTHING`,
      interval.agentId,
      interval.name,
      JSON.stringify(interval.location),
      interval.provider,
      interval.providerId,
      interval.instanceId,
      interval.instanceType,
      interval.lifecycle,
      interval.pricePerHourMicros,
      interval.capacity.cpuMillis,
      interval.capacity.memoryMiB,
      interval.capacity.gpus,
      interval.capacity.netMbps,
      interval.intentId,
      JSON.stringify(interval.owners),
      interval.startMs,
    );
  }

  closeAgentInterval(agentId: string, endMs: number): void {
    this.#db.run(
      'UPDATE ledger_agents SET end_ms = max(?, start_ms) WHERE agent_id = ? AND end_ms IS NULL',
      endMs,
      agentId,
    );
  }

  openUsageInterval(usage: Omit<UsageInterval, 'id' | 'endMs'>): void {
    this.#db.run(
      `INSERT INTO ledger_usage (task_id, agent_id, team, project, job, share, start_ms, end_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT (task_id) WHERE end_ms IS NULL DO NOTHING`,
      usage.taskId,
      usage.agentId,
      usage.owner.team,
      usage.owner.project,
      usage.owner.job,
      Math.max(0, usage.share),
      usage.startMs,
    );
  }

  closeUsageInterval(taskId: string, endMs: number, measured?: MeasuredUse): void {
    this.#db.run(
      `UPDATE ledger_usage SET end_ms = max(?, start_ms), cpu_seconds = ?, peak_memory_bytes = ?
       WHERE task_id = ? AND end_ms IS NULL`,
      endMs,
      measured?.cpuSeconds ?? null,
      measured?.peakMemoryBytes ?? null,
      taskId,
    );
  }

  overlapping(fromMs: number, toMs: number, options?: { readonly agentsOnly?: boolean }): LedgerSlice {
    return this.#db.read(() => ({
      agents: this.#db
        .all(
          `SELECT * FROM ledger_agents WHERE start_ms < ? AND (end_ms IS NULL OR end_ms >= ?) ORDER BY start_ms, rowid`,
          toMs,
          fromMs,
        )
        .map(toAgentInterval),
      usage:
        options?.agentsOnly === true
          ? []
          : this.#db
              .all(
                `SELECT * FROM ledger_usage WHERE start_ms < ? AND (end_ms IS NULL OR end_ms >= ?) ORDER BY start_ms, id`,
                toMs,
                fromMs,
              )
              .map(toUsageInterval),
    }));
  }

  agentInterval(agentId: string): AgentInterval | undefined {
    const row = this.#db.get('SELECT * FROM ledger_agents WHERE agent_id = ?', agentId);
    return row === undefined ? undefined : toAgentInterval(row);
  }

  measuredRuns(fromMs: number, toMs: number): MeasuredRun[] {
    return this.#db
      .all(
        `SELECT u.team, u.project, u.job, u.start_ms, u.end_ms, u.cpu_seconds, u.peak_memory_bytes,
                t.cpu_millis, t.memory_mib
         FROM ledger_usage u JOIN tasks t ON t.id = u.task_id
         WHERE u.start_ms < ? AND (u.end_ms IS NULL OR u.end_ms >= ?) ORDER BY u.start_ms, u.id`,
        toMs,
        fromMs,
      )
      .map((row) => ({
        owner: { team: text(row, 'team'), project: text(row, 'project'), job: text(row, 'job') },
        cpuMillis: int(row, 'cpu_millis'),
        memoryMiB: int(row, 'memory_mib'),
        startMs: int(row, 'start_ms'),
        endMs: intOrNull(row, 'end_ms'),
        cpuSeconds: typeof row['cpu_seconds'] === 'number' ? row['cpu_seconds'] : null,
        peakMemoryBytes: intOrNull(row, 'peak_memory_bytes'),
      }));
  }

  usageOf(taskId: string): UsageInterval[] {
    return this.#db.all('SELECT * FROM ledger_usage WHERE task_id = ? ORDER BY id', taskId).map(toUsageInterval);
  }

  /**
   * Opens the interval of an agent just recorded, from `startMs`, with its launch intent's owners and instance type
   * (none for a private agent).
   */
  openForAgent(agent: Agent, startMs: number): void {
    const intent =
      agent.intentId === null
        ? undefined
        : this.#db.get('SELECT owners, offering FROM intents WHERE id = ? AND kind = ?', agent.intentId, 'launch');
    const offering = intent === undefined ? undefined : json<Offering>(intent, 'offering');
    this.openAgentInterval({
      agentId: agent.id,
      name: agent.name,
      location: agent.location,
      provider: agent.location.kind === 'cloud' ? agent.location.provider : 'private',
      providerId: agent.providerId,
      instanceId: agent.instanceId,
      instanceType: offering?.instanceType ?? '',
      lifecycle: agent.lifecycle,
      pricePerHourMicros: agent.pricePerHourMicros,
      capacity: agent.capacity,
      intentId: agent.intentId,
      owners: intent === undefined ? [] : json<OwnerShare[]>(intent, 'owners'),
      startMs,
    });
  }

  /** Records the capacity an agent registered with, for dominant shares and private rates. */
  recordCapacity(agentId: string, capacity: Resources): void {
    this.#db.run(
      `UPDATE ledger_agents SET cpu_millis = ?, memory_mib = ?, gpus = ?, net_mbps = ? WHERE agent_id = ?`,
      capacity.cpuMillis,
      capacity.memoryMiB,
      capacity.gpus,
      capacity.netMbps,
      agentId,
    );
  }

  /** Opens a run for each task an agent just claimed, with its dominant share of the agent's capacity now. */
  openForClaims(agentId: string, tasks: readonly Task[], nowMs: number): void {
    if (tasks.length === 0) return;
    const row = this.#db.get('SELECT cpu_millis, memory_mib, gpus, net_mbps FROM agents WHERE id = ?', agentId);
    if (row === undefined) return;
    const capacity = resourcesOf(row);
    for (const task of tasks) {
      this.openUsageInterval({
        taskId: task.id,
        agentId,
        owner: task.owner,
        share: dominantShare(task.resources, capacity),
        startMs: nowMs,
      });
    }
  }

  /** Closes every open run on an agent (its tasks were all requeued). */
  closeUsageOnAgent(agentId: string, endMs: number): void {
    this.#db.run(
      'UPDATE ledger_usage SET end_ms = max(?, start_ms) WHERE agent_id = ? AND end_ms IS NULL',
      endMs,
      agentId,
    );
  }
}

export function toAgentInterval(row: Row): AgentInterval {
  return {
    agentId: text(row, 'agent_id'),
    name: text(row, 'name'),
    location: json<Location>(row, 'location'),
    provider: text(row, 'provider'),
    providerId: textOrNull(row, 'provider_id'),
    instanceId: textOrNull(row, 'instance_id'),
    instanceType: text(row, 'instance_type'),
    lifecycle: text(row, 'lifecycle') as Lifecycle,
    pricePerHourMicros: int(row, 'price_per_hour_micros'),
    capacity: resourcesOf(row),
    intentId: textOrNull(row, 'intent_id'),
    owners: json<OwnerShare[]>(row, 'owners'),
    startMs: int(row, 'start_ms'),
    endMs: intOrNull(row, 'end_ms'),
  };
}

export function toUsageInterval(row: Row): UsageInterval {
  const share = row['share'];
  return {
    id: int(row, 'id'),
    taskId: text(row, 'task_id'),
    agentId: text(row, 'agent_id'),
    owner: { team: text(row, 'team'), project: text(row, 'project'), job: text(row, 'job') },
    share: typeof share === 'number' ? share : int(row, 'share'),
    startMs: int(row, 'start_ms'),
    endMs: intOrNull(row, 'end_ms'),
    // Only measured runs carry their use.
    ...(typeof row['cpu_seconds'] === 'number' ? { cpuSeconds: row['cpu_seconds'] } : {}),
    ...(row['peak_memory_bytes'] === null ? {} : { peakMemoryBytes: intOrNull(row, 'peak_memory_bytes') }),
  };
}
