import { AgentState, type Agent, type AgentIsolation, type Lifecycle } from '../../core/agent.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Location } from '../../core/location.ts';
import { ZERO, type Resources } from '../../core/resources.ts';
import type { AsyncRepo } from '../async-store.ts';
import type { AgentFilter, AgentRecord, AgentRepo, NewAgent } from '../store.ts';
import type { PgLedgerRepo } from './ledger-repo.ts';
import { isConstraintError, type PgDb, type PgRow } from './pg-db.ts';
import { int, intOrNull, json, resourcesOf, text, textOrNull } from './rows.ts';
import type { PgTaskRepo } from './task-repo.ts';
import type { PgTokenRepo } from './token-repo.ts';

/** The sum of the placed and running tasks, per agent (`AND agent_id ...` and `GROUP BY agent_id` follow). */
const ALLOCATED = `SELECT agent_id, SUM(cpu_millis) AS cpu_millis, SUM(memory_mib) AS memory_mib, SUM(gpus) AS gpus,
    SUM(net_mbps) AS net_mbps FROM tasks WHERE state IN ('placed', 'running')`;

/** States an agent never leaves, and the one state each may still move to. */
const FINAL_STATES: ReadonlyMap<AgentState, AgentState | undefined> = new Map([
  [AgentState.terminated, undefined],
  [AgentState.lost, AgentState.terminated],
]);

/**
 * The machines of the pool on PostgreSQL, as SqliteAgentRepo: `allocated` is summed from the agent's placed and
 * running tasks on every read, never stored. Methods that read before they write lock the agent's row (FOR UPDATE).
 */
export class PgAgentRepo implements AsyncRepo<AgentRepo> {
  readonly #db: PgDb;
  readonly #tasks: PgTaskRepo;
  readonly #tokens: PgTokenRepo;
  readonly #ledger: PgLedgerRepo;

  constructor(db: PgDb, tasks: PgTaskRepo, tokens: PgTokenRepo, ledger: PgLedgerRepo) {
    this.#db = db;
    this.#tasks = tasks;
    this.#tokens = tokens;
    this.#ledger = ledger;
  }

  /**
   * New id, registeredAtMs, lastHeartbeatMs and idleSinceMs are `nowMs`. Opens the agent's ledger interval from
   * `costSinceMs` (default `nowMs`). ConflictError when an agent for the same provider instance exists (the unique
   * index decides between two racing inserts).
   */
  insert(agent: NewAgent, nowMs: number, costSinceMs = nowMs): Promise<Agent> {
    return this.#db.transaction(async () => {
      const doing =
        agent.instanceId === null ? `adding agent ${agent.name}` : `adding agent for instance ${agent.instanceId}`;
      if (agent.instanceId !== null && agent.providerId !== null) {
        const existing = await this.byInstance(agent.providerId, agent.instanceId);
        if (existing !== undefined) {
          throw new ConflictError(`${doing}: agent ${existing.id} already stands for it at ${agent.providerId}`);
        }
      }
      const id = newId('a');
      try {
        await this.#db.transaction(() =>
          this.#db.run(
            `INSERT INTO agents (id, name, location, cpu_millis, memory_mib, gpus, net_mbps, labels, lifecycle,
               price_per_hour_micros, state, instance_id, provider_id, intent_id, registered_at_ms, last_heartbeat_ms,
               idle_since_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $15)`,
            [
              id,
              agent.name,
              JSON.stringify(agent.location),
              agent.capacity.cpuMillis,
              agent.capacity.memoryMiB,
              agent.capacity.gpus,
              agent.capacity.netMbps,
              JSON.stringify(agent.labels),
              agent.lifecycle,
              agent.pricePerHourMicros,
              agent.state,
              agent.instanceId,
              agent.providerId,
              agent.intentId,
              nowMs,
            ],
          ),
        );
      } catch (err) {
        if (!isConstraintError(err)) throw err;
        throw new ConflictError(`${doing}: the store refused it (${(err as Error).message})`, { cause: err });
      }
      const inserted = await this.#mustGet(id, doing);
      await this.#ledger.openForAgent(inserted, Math.min(costSinceMs, nowMs));
      return inserted;
    });
  }

  async setIsolation(id: string, isolation: AgentIsolation): Promise<void> {
    await this.#db.run('UPDATE agents SET isolation = $1 WHERE id = $2', [isolation, id]);
  }

  async state(id: string): Promise<AgentState | undefined> {
    const row = await this.#db.get('SELECT state FROM agents WHERE id = $1', [id]);
    return row === undefined ? undefined : (text(row, 'state') as AgentState);
  }

  async get(id: string): Promise<Agent | undefined> {
    const row = await this.#db.get('SELECT * FROM agents WHERE id = $1', [id]);
    if (row === undefined) return undefined;
    const allocated = await this.#db.get(`${ALLOCATED} AND agent_id = $1 GROUP BY agent_id`, [id]);
    return toAgent(row, allocated === undefined ? ZERO : resourcesOf(allocated));
  }

  /** In the order the agents were recorded; agents and allocations read in one snapshot. */
  list(filter: AgentFilter = {}): Promise<Agent[]> {
    return this.#db.read(async () => {
      const allocated = new Map<string, Resources>();
      for (const row of await this.#db.all(`${ALLOCATED} GROUP BY agent_id`)) {
        allocated.set(text(row, 'agent_id'), resourcesOf(row));
      }
      const rows =
        filter.states === undefined
          ? await this.#db.all('SELECT * FROM agents ORDER BY seq')
          : await this.#db.all('SELECT * FROM agents WHERE state = ANY($1::text[]) ORDER BY seq', [filter.states]);
      return rows.map((row) => toAgent(row, allocated.get(text(row, 'id')) ?? ZERO));
    });
  }

  /** Reads the allocation of the page's agents only. */
  page(filter: AgentFilter & { readonly limit: number; readonly after?: number }): Promise<{
    agents: Agent[];
    next: number | null;
  }> {
    return this.#db.read(async () => {
      const rows = await this.#db.all(
        `SELECT * FROM agents WHERE seq > $1 AND ($2::text[] IS NULL OR state = ANY($2::text[])) ORDER BY seq LIMIT $3`,
        [filter.after ?? 0, filter.states ?? null, filter.limit + 1],
      );
      const more = rows.length > filter.limit;
      const kept = more ? rows.slice(0, filter.limit) : rows;
      const allocated = new Map<string, Resources>();
      if (kept.length > 0) {
        const ids = kept.map((row) => text(row, 'id'));
        for (const row of await this.#db.all(`${ALLOCATED} AND agent_id = ANY($1::text[]) GROUP BY agent_id`, [ids])) {
          allocated.set(text(row, 'agent_id'), resourcesOf(row));
        }
      }
      const last = kept.at(-1);
      return {
        agents: kept.map((row) => toAgent(row, allocated.get(text(row, 'id')) ?? ZERO)),
        next: more && last !== undefined ? int(last, 'seq') : null,
      };
    });
  }

  async byInstance(providerId: string, instanceId: string): Promise<Agent | undefined> {
    const row = await this.#db.get('SELECT id FROM agents WHERE provider_id = $1 AND instance_id = $2', [
      providerId,
      instanceId,
    ]);
    return row === undefined ? undefined : this.get(text(row, 'id'));
  }

  /** Also marks the agent idle and its heartbeat fresh; registeredAtMs stays the time the agent was recorded. */
  register(
    id: string,
    update: { capacity: Resources; labels: Readonly<Record<string, string>> },
    nowMs: number,
  ): Promise<Agent> {
    return this.#db.transaction(async () => {
      const doing = `registering agent ${id}`;
      const agent = await this.#mustLock(id, doing);
      if (agent.state !== AgentState.provisioning) {
        throw new ConflictError(`${doing}: it is ${agent.state}, not provisioning; an instance registers once`);
      }
      await this.#db.run(
        `UPDATE agents SET state = 'registered', cpu_millis = $1, memory_mib = $2, gpus = $3, net_mbps = $4,
           labels = $5, last_heartbeat_ms = $6, idle_since_ms = $6, reason = 'registered'
         WHERE id = $7`,
        [
          update.capacity.cpuMillis,
          update.capacity.memoryMiB,
          update.capacity.gpus,
          update.capacity.netMbps,
          JSON.stringify(update.labels),
          nowMs,
          id,
        ],
      );
      await this.#ledger.recordCapacity(id, update.capacity);
      return this.#mustGet(id, doing);
    });
  }

  /**
   * A terminated or lost agent is returned as it is, heartbeat unrecorded (see SqliteAgentRepo.heartbeat). Locks the
   * agent's placed and running tasks before the agent, as setState does: the registry's heartbeat goes on, in the same
   * transaction, to requeue tasks of the agent, and with the agent locked first it would wait for a task whose exit
   * report (task, then agent) waits for the agent: a lock cycle PostgreSQL breaks by failing one of them.
   */
  heartbeat(id: string, nowMs: number): Promise<Agent> {
    return this.#db.transaction(async () => {
      const doing = `recording a heartbeat of agent ${id}`;
      await this.#lockActiveTasks(id);
      const agent = await this.#mustLock(id, doing);
      if (FINAL_STATES.has(agent.state)) return agent;
      await this.#db.run('UPDATE agents SET last_heartbeat_ms = $1 WHERE id = $2', [nowMs, id]);
      return this.#mustGet(id, doing);
    });
  }

  /**
   * See SqliteAgentRepo.setState: final states revoke tokens, requeue tasks and close the ledger interval. Locks the
   * agent's placed and running tasks before the agent, the order every task change takes (task, then its agent), so
   * a task finishing or cancelled meanwhile waits instead of deadlocking.
   */
  setState(id: string, state: AgentState, reason: string, nowMs: number): Promise<Agent> {
    return this.#db.transaction(async () => {
      const doing = `moving agent ${id} to ${state}`;
      if (FINAL_STATES.has(state)) await this.#lockActiveTasks(id);
      const agent = await this.#mustLock(id, doing);
      if (FINAL_STATES.has(agent.state) && FINAL_STATES.get(agent.state) !== state) {
        const next = FINAL_STATES.get(agent.state);
        throw new ConflictError(
          `${doing}: it is ${agent.state}, ${next === undefined ? 'which is final' : `which may only become ${next}`}`,
        );
      }
      await this.#db.run('UPDATE agents SET state = $1, reason = $2 WHERE id = $3', [state, reason, id]);
      if (FINAL_STATES.has(state)) {
        await this.#tokens.revokeForAgent(id, nowMs);
        await this.#tasks.requeueAgent(id, `returned to pending: agent ${id} ${state} (${reason})`, nowMs);
      }
      if (state === AgentState.terminated || (state === AgentState.lost && agent.location.kind === 'private')) {
        await this.#ledger.closeAgentInterval(id, nowMs);
      }
      return this.#mustGet(id, doing);
    });
  }

  /**
   * Locks the agent's placed and running tasks: task before agent, the order every task change takes; by id, so two
   * transactions locking the same tasks here take them in one order.
   */
  async #lockActiveTasks(id: string): Promise<void> {
    await this.#db.all(
      `SELECT 1 FROM tasks WHERE agent_id = $1 AND state IN ('placed', 'running') ORDER BY id FOR UPDATE`,
      [id],
    );
  }

  async #mustLock(id: string, doing: string): Promise<Agent> {
    await this.#db.get('SELECT 1 FROM agents WHERE id = $1 FOR UPDATE', [id]);
    return this.#mustGet(id, doing);
  }

  async #mustGet(id: string, doing: string): Promise<Agent> {
    const agent = await this.get(id);
    if (agent === undefined) throw new NotFoundError(`${doing}: there is no such agent`);
    return agent;
  }
}

function toAgent(row: PgRow, allocated: Resources): Agent {
  // Keys in SQLite's order, so both engines' agents serialize alike.
  const { id, name, location, capacity, ...rest } = toAgentRecord(row);
  return { id, name, location, capacity, allocated, ...rest };
}

/** An agent row as recorded, without `allocated` (the change feed reads these). */
export function toAgentRecord(row: PgRow): AgentRecord {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    location: json<Location>(row, 'location'),
    capacity: resourcesOf(row),
    labels: json<Record<string, string>>(row, 'labels'),
    lifecycle: text(row, 'lifecycle') as Lifecycle,
    pricePerHourMicros: int(row, 'price_per_hour_micros'),
    state: text(row, 'state') as AgentState,
    instanceId: textOrNull(row, 'instance_id'),
    providerId: textOrNull(row, 'provider_id'),
    intentId: textOrNull(row, 'intent_id'),
    registeredAtMs: int(row, 'registered_at_ms'),
    lastHeartbeatMs: int(row, 'last_heartbeat_ms'),
    idleSinceMs: intOrNull(row, 'idle_since_ms'),
    reason: text(row, 'reason'),
    isolation: (textOrNull(row, 'isolation') ?? 'none') as AgentIsolation,
  };
}
