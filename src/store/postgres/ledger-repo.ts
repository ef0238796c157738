import type { Agent, Lifecycle } from '../../core/agent.ts';
import type { Location } from '../../core/location.ts';
import type { Offering } from '../../core/offering.ts';
import type { OwnerShare } from '../../core/owner.ts';
import { dominantShare, type Resources } from '../../core/resources.ts';
import type { Task } from '../../core/task.ts';
import type { AgentInterval, LedgerSlice, MeasuredUse, UsageInterval } from '../../cost-model/ledger.ts';
import type { MeasuredRun } from '../../cost-model/measured-use.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { LedgerRepo } from '../store.ts';
import type { PgDb, PgRow } from './pg-db.ts';
import { int, intOrNull, json, real, resourcesOf, text, textOrNull } from './rows.ts';

/**
 * The cost ledger's intervals on PostgreSQL, as SqliteLedgerRepo: the other repositories call the helpers below
 * inside their own transactions, so an interval is written or closed in the same commit as the state change it
 * records. Opening twice and closing twice change nothing (ON CONFLICT, `end_ms IS NULL`).
 */
export class PgLedgerRepo implements AsyncRepo<LedgerRepo> {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async openAgentInterval(interval: Omit<AgentInterval, 'endMs'>): Promise<void> {
    await this.#db.run(
      `INSERT INTO ledger_agents (agent_id, name, location, provider, provider_id, instance_id, instance_type, lifecycle,
         price_per_hour_micros, cpu_millis, memory_mib, gpus, net_mbps, intent_id, owners, start_ms, end_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL)
       ON CONFLICT (agent_id) DO NOTHING`,
      [
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
      ],
    );
  }

  async closeAgentInterval(agentId: string, endMs: number): Promise<void> {
    await this.#db.run(
      'UPDATE ledger_agents SET end_ms = GREATEST($1::bigint, start_ms) WHERE agent_id = $2 AND end_ms IS NULL',
      [endMs, agentId],
    );
  }

  async openUsageInterval(usage: Omit<UsageInterval, 'id' | 'endMs'>): Promise<void> {
    await this.#db.run(
      `INSERT INTO ledger_usage (task_id, agent_id, team, project, job, share, start_ms, end_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
       ON CONFLICT (task_id) WHERE end_ms IS NULL DO NOTHING`,
      [
        usage.taskId,
        usage.agentId,
        usage.owner.team,
        usage.owner.project,
        usage.owner.job,
        Math.max(0, usage.share),
        usage.startMs,
      ],
    );
  }

  async closeUsageInterval(taskId: string, endMs: number, measured?: MeasuredUse): Promise<void> {
    await this.#db.run(
      `UPDATE ledger_usage SET end_ms = GREATEST($1::bigint, start_ms), cpu_seconds = $2, peak_memory_bytes = $3
       WHERE task_id = $4 AND end_ms IS NULL`,
      [endMs, measured?.cpuSeconds ?? null, measured?.peakMemoryBytes ?? null, taskId],
    );
  }

  overlapping(fromMs: number, toMs: number): Promise<LedgerSlice> {
    return this.#db.read(async () => ({
      agents: (
        await this.#db.all(
          `SELECT * FROM ledger_agents WHERE start_ms < $1 AND (end_ms IS NULL OR end_ms >= $2) ORDER BY start_ms, seq`,
          [toMs, fromMs],
        )
      ).map(toAgentInterval),
      usage: (
        await this.#db.all(
          `SELECT * FROM ledger_usage WHERE start_ms < $1 AND (end_ms IS NULL OR end_ms >= $2) ORDER BY start_ms, id`,
          [toMs, fromMs],
        )
      ).map(toUsageInterval),
    }));
  }

  async agentInterval(agentId: string): Promise<AgentInterval | undefined> {
    const row = await this.#db.get('SELECT * FROM ledger_agents WHERE agent_id = $1', [agentId]);
    return row === undefined ? undefined : toAgentInterval(row);
  }

  async measuredRuns(fromMs: number, toMs: number): Promise<MeasuredRun[]> {
    const rows = await this.#db.all(
      `SELECT u.team, u.project, u.job, u.start_ms, u.end_ms, u.cpu_seconds, u.peak_memory_bytes,
              t.cpu_millis, t.memory_mib
       FROM ledger_usage u JOIN tasks t ON t.id = u.task_id
       WHERE u.start_ms < $1 AND (u.end_ms IS NULL OR u.end_ms >= $2) ORDER BY u.start_ms, u.id`,
      [toMs, fromMs],
    );
    return rows.map((row) => ({
      owner: { team: text(row, 'team'), project: text(row, 'project'), job: text(row, 'job') },
      cpuMillis: int(row, 'cpu_millis'),
      memoryMiB: int(row, 'memory_mib'),
      startMs: int(row, 'start_ms'),
      endMs: intOrNull(row, 'end_ms'),
      cpuSeconds: row['cpu_seconds'] === null ? null : real(row, 'cpu_seconds'),
      peakMemoryBytes: intOrNull(row, 'peak_memory_bytes'),
    }));
  }

  async usageOf(taskId: string): Promise<UsageInterval[]> {
    return (await this.#db.all('SELECT * FROM ledger_usage WHERE task_id = $1 ORDER BY id', [taskId])).map(
      toUsageInterval,
    );
  }

  /** Opens the interval of an agent just recorded, from `startMs` (see SqliteLedgerRepo.openForAgent). */
  async openForAgent(agent: Agent, startMs: number): Promise<void> {
    const intent =
      agent.intentId === null
        ? undefined
        : await this.#db.get(`SELECT owners, offering FROM intents WHERE id = $1 AND kind = 'launch'`, [
            agent.intentId,
          ]);
    const offering = intent === undefined ? undefined : json<Offering>(intent, 'offering');
    await this.openAgentInterval({
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
  async recordCapacity(agentId: string, capacity: Resources): Promise<void> {
    await this.#db.run(
      `UPDATE ledger_agents SET cpu_millis = $1, memory_mib = $2, gpus = $3, net_mbps = $4 WHERE agent_id = $5`,
      [capacity.cpuMillis, capacity.memoryMiB, capacity.gpus, capacity.netMbps, agentId],
    );
  }

  /** Opens a run for each task an agent just claimed, with its dominant share of the agent's capacity now. */
  async openForClaims(agentId: string, tasks: readonly Task[], nowMs: number): Promise<void> {
    if (tasks.length === 0) return;
    const row = await this.#db.get('SELECT cpu_millis, memory_mib, gpus, net_mbps FROM agents WHERE id = $1', [
      agentId,
    ]);
    if (row === undefined) return;
    const capacity = resourcesOf(row);
    for (const task of tasks) {
      await this.openUsageInterval({
        taskId: task.id,
        agentId,
        owner: task.owner,
        share: dominantShare(task.resources, capacity),
        startMs: nowMs,
      });
    }
  }

  /** Closes every open run on an agent (its tasks were all requeued). */
  async closeUsageOnAgent(agentId: string, endMs: number): Promise<void> {
    await this.#db.run(
      'UPDATE ledger_usage SET end_ms = GREATEST($1::bigint, start_ms) WHERE agent_id = $2 AND end_ms IS NULL',
      [endMs, agentId],
    );
  }
}

export function toAgentInterval(row: PgRow): AgentInterval {
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

export function toUsageInterval(row: PgRow): UsageInterval {
  return {
    id: int(row, 'id'),
    taskId: text(row, 'task_id'),
    agentId: text(row, 'agent_id'),
    owner: { team: text(row, 'team'), project: text(row, 'project'), job: text(row, 'job') },
    share: real(row, 'share'),
    startMs: int(row, 'start_ms'),
    endMs: intOrNull(row, 'end_ms'),
    // Only measured runs carry their use.
    ...(row['cpu_seconds'] === null ? {} : { cpuSeconds: real(row, 'cpu_seconds') }),
    ...(row['peak_memory_bytes'] === null ? {} : { peakMemoryBytes: intOrNull(row, 'peak_memory_bytes') }),
  };
}
