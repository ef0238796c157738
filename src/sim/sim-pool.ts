import type { Agent } from '../core/agent.ts';
import type { TaskHeader } from '../core/task.ts';
import type { Placement, Pool, PoolSnapshot } from '../pool/pool.ts';

/**
 * The real pool, watched: every call goes to it unchanged; the placements it makes are handed to `onPlaced`, so the
 * simulated agents pull their new work right after the pass, as real agents do on their next poll; the wait reasons
 * it is told are handed to `onWaiting`.
 */
export class WatchedPool implements Pool {
  readonly #pool: Pool;
  readonly #onPlaced: (placements: readonly Placement[]) => void;
  readonly #onWaiting: ((waiting: readonly { readonly taskId: string; readonly reason: string }[]) => void) | undefined;

  /** `onWaiting` is told the wait reasons the controller stores on pending tasks in each pass. */
  constructor(
    pool: Pool,
    onPlaced: (placements: readonly Placement[]) => void,
    onWaiting?: (waiting: readonly { readonly taskId: string; readonly reason: string }[]) => void,
  ) {
    this.#pool = pool;
    this.#onPlaced = onPlaced;
    this.#onWaiting = onWaiting;
  }

  noteWaiting(waiting: readonly { readonly taskId: string; readonly reason: string }[]): void {
    this.#pool.noteWaiting?.(waiting);
    this.#onWaiting?.(waiting);
  }

  observe(nowMs: number): Promise<PoolSnapshot> {
    return this.#pool.observe(nowMs);
  }

  async place(nowMs: number, allowCloud?: (task: TaskHeader, agent: Agent) => boolean): Promise<Placement[]> {
    const placed = await this.#pool.place(nowMs, allowCloud);
    if (placed.length > 0) this.#onPlaced(placed);
    return placed;
  }

  expireAgents(nowMs: number, watchingSinceMs?: number): Promise<string[]> {
    return this.#pool.expireAgents(nowMs, watchingSinceMs);
  }

  drain(agentId: string, reason: string, nowMs: number): Promise<void> {
    return this.#pool.drain(agentId, reason, nowMs);
  }

  markLost(agentId: string, reason: string, nowMs: number): Promise<void> {
    return this.#pool.markLost(agentId, reason, nowMs);
  }
}
