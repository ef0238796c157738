import type { Agent } from '../core/agent.ts';
import type { TaskHeader } from '../core/task.ts';

/** What the controller sees of the pool in one pass. */
export interface PoolSnapshot {
  readonly agents: readonly Agent[];
  /** Tasks waiting for room, highest priority first. */
  readonly pending: readonly TaskHeader[];
}

/** A placement the pool made, with its reason, for the decision log. */
export interface Placement {
  readonly taskId: string;
  readonly agentId: string;
  readonly reason: string;
}

/**
 * The pool port: where tasks wait and run. The builtin pool keeps the queue itself and places tasks; a Slurm pool
 * reports Slurm's pending jobs and leaves placement to Slurm. Spillway only adds and removes capacity.
 *
 * Every method that may read or write the store is asynchronous (the store port is: src/store/async-store.ts).
 */
export interface Pool {
  observe(nowMs: number): Promise<PoolSnapshot>;
  /**
   * Places pending tasks on free room, private agents first; returns what it placed. `allowCloud` is asked before a
   * task goes to a cloud agent (budgets); default allows all.
   */
  place(nowMs: number, allowCloud?: (task: TaskHeader, agent: Agent) => boolean): Promise<Placement[]>;
  /**
   * Marks agents whose heartbeats stopped as lost and returns their tasks to pending; returns their ids. Silence is
   * counted from `watchingSinceMs` at the earliest (when this controller started watching), so agents are not
   * blamed for a controller's own downtime.
   */
  expireAgents(nowMs: number, watchingSinceMs?: number): Promise<string[]>;
  /** Stops new placements on an agent; running work goes on. */
  drain(agentId: string, reason: string, nowMs: number): Promise<void>;
  /** Marks an agent lost (its instance vanished) and returns its tasks to pending, in one transaction. */
  markLost(agentId: string, reason: string, nowMs: number): Promise<void>;
  /**
   * For a pool that keeps its state elsewhere (Slurm): reads it and carries out what earlier calls decided, before a
   * pass observes. Absent for the builtin pool, whose state is the store.
   */
  sync?(nowMs: number): Promise<void>;
  /**
   * For a pool with its own scheduler: of the cloud agents scale-down chose to terminate, those whose instances may
   * go now. The pool first takes the others out of its scheduler (drain, then delete); they come back in a later
   * pass. Absent: every one may go.
   */
  release?<T extends ReleaseRequest>(requests: readonly T[], nowMs: number): Promise<T[]>;
  /**
   * Adds what only the pool knows to why tasks wait (an agent with room it may not use, such as one without task
   * isolation under `requireIsolation`). Absent: the reasons stand as they are.
   */
  explainWaiting?(
    waiting: readonly { readonly taskId: string; readonly reason: string }[],
  ): { readonly taskId: string; readonly reason: string }[];
  /** Tells the pool why tasks wait (budgets, limits, launches on their way), for its own users to see. */
  noteWaiting?(waiting: readonly { readonly taskId: string; readonly reason: string }[]): void;
}

/** What `release` is asked about: an agent scale-down chose (null for an instance no agent knows), and why. */
export interface ReleaseRequest {
  readonly agentId: string | null;
  readonly reason: string;
}
