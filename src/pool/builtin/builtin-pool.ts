import { LIVE_AGENT_STATES, type Agent } from '../../core/agent.ts';
import { ConflictError } from '../../core/errors.ts';
import type { TaskHeader } from '../../core/task.ts';
import type { Logger } from '../../log/logger.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import type { Placement, Pool, PoolSnapshot } from '../pool.ts';
import { keptOffByIsolation, placeTasks, type PlacementOptions } from './placement.ts';
import { ClusterModel } from '../../model/cluster-model.ts';
import type { Resources } from '../../core/resources.ts';

/** The embedded pool: Spillway keeps the queue in its store and places tasks on its own agents. */
export class BuiltinPool implements Pool {
  readonly #store: AsyncStore;
  readonly #logger: Logger;
  readonly #lostAfterMs: number;
  readonly #placement: PlacementOptions;
  /** Tasks the last placement left waiting only because the policy requires isolation: task id -> agent name. */
  #keptOff = new Map<string, string>();

  readonly #agentsIsolate: boolean;
  /** Shared with the controller on the same store. */
  readonly #model: ClusterModel;

  /**
   * `agentsIsolate`: the agents are real processes that report their isolation, so the policy's `requireIsolation`
   * applies; false (the simulator's simulated agents) places on every agent.
   */
  constructor(opts: {
    store: AsyncStore;
    logger: Logger;
    lostAfterMs: number;
    placement?: PlacementOptions;
    agentsIsolate?: boolean;
  }) {
    this.#agentsIsolate = opts.agentsIsolate ?? false;
    this.#store = opts.store;
    this.#logger = opts.logger;
    this.#lostAfterMs = opts.lostAfterMs;
    this.#placement = opts.placement ?? {};
    this.#model = ClusterModel.of(opts.store);
  }

  /** From the in-memory model (src/model/), caught up with the store first. */
  async observe(): Promise<PoolSnapshot> {
    await this.#model.refresh();
    return { agents: this.#model.agents(LIVE_AGENT_STATES), pending: [...this.#model.pending()] };
  }

  /**
   * Looks only at agents whose free room fits the smallest request of each dimension (the model's free-room index):
   * no other agent could take any pending task, so the placements are those over every agent, found without
   * visiting a full pool.
   */
  async place(nowMs: number, allowCloud?: (task: TaskHeader, agent: Agent) => boolean): Promise<Placement[]> {
    await this.#model.refresh();
    const pending = this.#model.pending();
    this.#keptOff = new Map();
    if (pending.length === 0) return [];
    const agents = this.#model.agentsWithRoomFor(smallestRequest(pending));
    if (agents.length === 0) return [];
    const requireIsolation = this.#agentsIsolate && (await this.#store.policy.get()).requireIsolation !== false;
    const options = { ...this.#placement, requireIsolation, ...(allowCloud ? { allowCloud } : {}) };
    const planned = placeTasks(pending, agents, options);
    if (requireIsolation) {
      const placedIds = new Set(planned.map((p) => p.taskId));
      this.#keptOff = keptOffByIsolation(pending.filter((t) => !placedIds.has(t.id)), agents);
    }
    const placed: Placement[] = [];
    await this.#store.transaction(async () => {
      for (const p of planned) {
        try {
          await this.#store.tasks.place(p.taskId, p.agentId, nowMs);
          placed.push(p);
        } catch (err) {
          // A task cancelled or an agent drained since the snapshot: the next pass sees the new state.
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    });
    for (const p of placed) this.#logger.info('placed task', { taskId: p.taskId, agentId: p.agentId, reason: p.reason });
    return placed;
  }

  explainWaiting(waiting: readonly { readonly taskId: string; readonly reason: string }[]): { taskId: string; reason: string }[] {
    return waiting.map((w) => {
      const agent = this.#keptOff.get(w.taskId);
      if (agent === undefined) return w;
      return {
        taskId: w.taskId,
        reason: `${w.reason}; agent ${agent} has room but runs tasks without isolation, which the policy forbids (requireIsolation)`,
      };
    });
  }

  async expireAgents(nowMs: number, watchingSinceMs = 0): Promise<string[]> {
    await this.#model.refresh();
    const silent = this.#model
      .agents(['registered', 'draining'])
      .filter((a) => nowMs - Math.max(a.lastHeartbeatMs, watchingSinceMs) > this.#lostAfterMs);
    for (const agent of silent) {
      await this.markLost(agent.id, `no heartbeat for ${Math.round((nowMs - agent.lastHeartbeatMs) / 1000)} s`, nowMs);
    }
    return silent.map((a) => a.id);
  }

  async drain(agentId: string, reason: string, nowMs: number): Promise<void> {
    await this.#store.agents.setState(agentId, 'draining', reason, nowMs);
    this.#logger.info('draining agent', { agentId, reason });
  }

  async markLost(agentId: string, reason: string, nowMs: number): Promise<void> {
    const requeued = await this.#store.transaction(async () => {
      const count = await this.#store.tasks.requeueAgent(
        agentId,
        `returned to pending: agent ${agentId} lost (${reason})`,
        nowMs,
      );
      await this.#store.agents.setState(agentId, 'lost', reason, nowMs);
      return count;
    });
    this.#logger.warn('lost agent', { agentId, reason, requeuedTasks: requeued });
  }
}

/** The smallest request of each dimension among the tasks: what an agent must have free to take any of them. */
function smallestRequest(tasks: readonly TaskHeader[]): Resources {
  let cpuMillis = Infinity;
  let memoryMiB = Infinity;
  let gpus = Infinity;
  let netMbps = Infinity;
  for (const { resources: r } of tasks) {
    cpuMillis = Math.min(cpuMillis, r.cpuMillis);
    memoryMiB = Math.min(memoryMiB, r.memoryMiB);
    gpus = Math.min(gpus, r.gpus);
    netMbps = Math.min(netMbps, r.netMbps);
  }
  return { cpuMillis, memoryMiB, gpus, netMbps };
}
