import { AgentState, type Agent, type AgentIsolation, type Lifecycle } from '../../core/agent.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Location } from '../../core/location.ts';
import { ZERO, type Resources } from '../../core/resources.ts';
import type { AgentFilter, AgentRepo, NewAgent } from '../store.ts';
import { int, intOrNull, json, jsonList, resourcesOf, text, textOrNull } from './rows.ts';
import { isConstraintError, type Row, type SqliteDb } from './sqlite-db.ts';
import type { SqliteLedgerRepo } from './ledger-repo.ts';
import type { SqliteTaskRepo } from './task-repo.ts';
import type { SqliteTokenRepo } from './token-repo.ts';

const SUMS = `SELECT agent_id, SUM(cpu_millis) AS cpu_millis, SUM(memory_mib) AS memory_mib, SUM(gpus) AS gpus,
    SUM(net_mbps) AS net_mbps`;
/** The sum of the placed and running tasks of one agent (`AND agent_id = ?` follows). */
const ALLOCATED = `${SUMS} FROM tasks WHERE state IN ('placed', 'running')`;
/**
 * The same for every agent. Left to itself the planner reads tasks_by_state and sorts every active task to group
 * them; the covering partial index tasks_allocated is already in agent order.
 */
const ALLOCATED_BY_AGENT = `${SUMS} FROM tasks INDEXED BY tasks_allocated WHERE state IN ('placed', 'running')`;

/** States an agent never leaves, and the one state each may still move to. */
const FINAL_STATES: ReadonlyMap<AgentState, AgentState | undefined> = new Map([
  [AgentState.terminated, undefined],
  [AgentState.lost, AgentState.terminated],
]);

/**
 * The machines of the pool. `allocated` is summed from the agent's placed and running tasks on every read, never
 * stored, so it cannot drift; `list` does it for all agents in one aggregate query.
 */
export class SqliteAgentRepo implements AgentRepo {
  readonly #db: SqliteDb;
  readonly #tasks: SqliteTaskRepo;
  readonly #tokens: SqliteTokenRepo;
  readonly #ledger: SqliteLedgerRepo;

  constructor(db: SqliteDb, tasks: SqliteTaskRepo, tokens: SqliteTokenRepo, ledger: SqliteLedgerRepo) {
    this.#db = db;
    this.#tasks = tasks;
    this.#tokens = tokens;
    this.#ledger = ledger;
  }

  /**
   * New id, registeredAtMs, lastHeartbeatMs and idleSinceMs are `nowMs`. Opens the agent's ledger interval from
   * `costSinceMs` (default `nowMs`; an adopted instance has cost since its launch was decided).
   */
  insert(agent: NewAgent, nowMs: number, costSinceMs = nowMs): Agent {
    return this.#db.transaction(() => {
      const doing =
        agent.instanceId === null ? `adding agent ${agent.name}` : `adding agent for instance ${agent.instanceId}`;
      if (agent.instanceId !== null && agent.providerId !== null) {
        const existing = this.byInstance(agent.providerId, agent.instanceId);
        if (existing !== undefined) {
          throw new ConflictError(`${doing}: agent ${existing.id} already stands for it at ${agent.providerId}`);
        }
      }
      const id = newId('a');
      try {
        this.#db.run(
          `INSERT INTO agents (id, name, location, cpu_millis, memory_mib, gpus, net_mbps, labels, lifecycle,
             price_per_hour_micros, state, instance_id, provider_id, intent_id, registered_at_ms, last_heartbeat_ms,
             idle_since_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          nowMs,
          nowMs,
        );
      } catch (err) {
        if (!isConstraintError(err)) throw err;
        throw new ConflictError(`${doing}: the store refused it (${(err as Error).message})`, { cause: err });
      }
      const inserted = this.#mustGet(id, doing);
      this.#ledger.openForAgent(inserted, Math.min(costSinceMs, nowMs));
      return inserted;
    });
  }

  setIsolation(id: string, isolation: AgentIsolation): void {
    this.#db.run('UPDATE agents SET isolation = ? WHERE id = ?', isolation, id);
  }

  state(id: string): AgentState | undefined {
    const row = this.#db.get('SELECT state FROM agents WHERE id = ?', id);
    return row === undefined ? undefined : (text(row, 'state') as AgentState);
  }

  get(id: string): Agent | undefined {
    const row = this.#db.get('SELECT * FROM agents WHERE id = ?', id);
    if (row === undefined) return undefined;
    const allocated = this.#db.get(`${ALLOCATED} AND agent_id = ?`, id);
    return toAgent(row, allocated === undefined || allocated['agent_id'] === null ? ZERO : resourcesOf(allocated));
  }

  /**
   * In the order the agents were recorded. Two queries in one read snapshot, joined here: at 50,000 agents and
   * 100,000 active tasks that is about twice as fast as SQLite's join of the aggregate.
   */
  list(filter: AgentFilter = {}): Agent[] {
    return this.#db.read(() => {
      const allocated = new Map<string, Resources>();
      for (const row of this.#db.all(`${ALLOCATED_BY_AGENT} GROUP BY agent_id`)) {
        allocated.set(text(row, 'agent_id'), resourcesOf(row));
      }
      // With states, the state index skips the (ever growing) terminated agents; rows come back in record order.
      const rows =
        filter.states === undefined
          ? this.#db.all('SELECT * FROM agents ORDER BY rowid')
          : this.#db.all(
              'SELECT * FROM agents INDEXED BY agents_by_state WHERE state IN (SELECT value FROM json_each(?)) ORDER BY rowid',
              jsonList(filter.states),
            );
      return rows.map((row) => toAgent(row, allocated.get(text(row, 'id')) ?? ZERO));
    });
  }

  /** Reads the allocation of the page's agents only, so a page costs the same at 50 agents or 50,000. */
  page(filter: AgentFilter & { readonly limit: number; readonly after?: number }): {
    agents: Agent[];
    next: number | null;
  } {
    return this.#db.read(() => {
      const after = filter.after ?? 0;
      const pageOf = 'SELECT rowid AS seq, * FROM agents WHERE rowid > ?';
      // Filtered by states, each state is walked on its own along agents_by_state (in rowid order within a state),
      // `limit + 1` rows at most, and the few read are merged: a page never reads or sorts every agent of the states.
      const states = filter.states === undefined ? undefined : [...new Set(filter.states)];
      const rows =
        states === undefined
          ? this.#db.all(`${pageOf} ORDER BY rowid LIMIT ?`, after, filter.limit + 1)
          : states.length === 0
            ? []
            : this.#db.all(
                `${states.map(() => `SELECT * FROM (${pageOf} AND state = ? ORDER BY rowid LIMIT ?)`).join(' UNION ALL ')}
                  ORDER BY seq LIMIT ?`,
                ...states.flatMap((state) => [after, state, filter.limit + 1]),
                filter.limit + 1,
              );
      const more = rows.length > filter.limit;
      const kept = more ? rows.slice(0, filter.limit) : rows;
      const allocated = new Map<string, Resources>();
      if (kept.length > 0) {
        const ids = JSON.stringify(kept.map((row) => text(row, 'id')));
        for (const row of this.#db.all(
          `${ALLOCATED_BY_AGENT} AND agent_id IN (SELECT value FROM json_each(?)) GROUP BY agent_id`,
          ids,
        )) {
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

  byInstance(providerId: string, instanceId: string): Agent | undefined {
    const row = this.#db.get('SELECT id FROM agents WHERE provider_id = ? AND instance_id = ?', providerId, instanceId);
    return row === undefined ? undefined : this.get(text(row, 'id'));
  }

  /** Also marks the agent idle and its heartbeat fresh; registeredAtMs stays the time the agent was recorded. */
  register(
    id: string,
    update: { capacity: Resources; labels: Readonly<Record<string, string>> },
    nowMs: number,
  ): Agent {
    return this.#db.transaction(() => {
      const doing = `registering agent ${id}`;
      const agent = this.#mustGet(id, doing);
      if (agent.state !== AgentState.provisioning) {
        throw new ConflictError(`${doing}: it is ${agent.state}, not provisioning; an instance registers once`);
      }
      this.#db.run(
        `UPDATE agents SET state = 'registered', cpu_millis = ?, memory_mib = ?, gpus = ?, net_mbps = ?, labels = ?,
           last_heartbeat_ms = ?, idle_since_ms = ?, reason = 'registered'
         WHERE id = ?`,
        update.capacity.cpuMillis,
        update.capacity.memoryMiB,
        update.capacity.gpus,
        update.capacity.netMbps,
        JSON.stringify(update.labels),
        nowMs,
        nowMs,
        id,
      );
      this.#ledger.recordCapacity(id, update.capacity);
      return this.#mustGet(id, doing);
    });
  }

  /**
   * Records that the agent is alive. A terminated or lost agent is returned as it is, heartbeat unrecorded, so the
   * caller can tell it to stop: its tasks went elsewhere and its tokens are revoked.
   */
  heartbeat(id: string, nowMs: number): Agent {
    return this.#db.transaction(() => {
      const doing = `recording a heartbeat of agent ${id}`;
      const agent = this.#mustGet(id, doing);
      if (FINAL_STATES.has(agent.state)) return agent;
      this.#db.run('UPDATE agents SET last_heartbeat_ms = ? WHERE id = ?', nowMs, id);
      return this.#mustGet(id, doing);
    });
  }

  /**
   * `terminated` is final; `lost` may only become `terminated`. Moving to either also revokes the agent's tokens and
   * returns its placed and running tasks to pending, so no task is left on an agent that will never run it.
   * Terminated closes the agent's ledger interval; so does lost for a private agent (a lost cloud agent's instance
   * may still be running, and billing, until it is terminated).
   */
  setState(id: string, state: AgentState, reason: string, nowMs: number): Agent {
    return this.#db.transaction(() => {
      const doing = `moving agent ${id} to ${state}`;
      const agent = this.#mustGet(id, doing);
      if (FINAL_STATES.has(agent.state) && FINAL_STATES.get(agent.state) !== state) {
        const next = FINAL_STATES.get(agent.state);
        throw new ConflictError(
          `${doing}: it is ${agent.state}, ${next === undefined ? 'which is final' : `which may only become ${next}`}`,
        );
      }
      this.#db.run('UPDATE agents SET state = ?, reason = ? WHERE id = ?', state, reason, id);
      if (FINAL_STATES.has(state)) {
        this.#tokens.revokeForAgent(id, nowMs);
        this.#tasks.requeueAgent(id, `returned to pending: agent ${id} ${state} (${reason})`, nowMs);
      }
      if (state === AgentState.terminated || (state === AgentState.lost && agent.location.kind === 'private')) {
        this.#ledger.closeAgentInterval(id, nowMs);
      }
      return this.#mustGet(id, doing);
    });
  }

  #mustGet(id: string, doing: string): Agent {
    const agent = this.get(id);
    if (agent === undefined) throw new NotFoundError(`${doing}: there is no such agent`);
    return agent;
  }
}

export function toAgent(row: Row, allocated: Resources): Agent {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    location: json<Location>(row, 'location'),
    capacity: resourcesOf(row),
    allocated,
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
