import type { Owner } from './owner.ts';
import type { Resources } from './resources.ts';

export const TaskState = {
  pending: 'pending',
  placed: 'placed',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'cancelled']);

/** Where a task may run. Everything unset means "anywhere that fits". */
export interface TaskConstraints {
  /** The task must never leave the private cluster. */
  readonly privateOnly?: boolean;
  /** Cloud providers (provider ids or kinds such as `aws-ec2`) the task may burst to. */
  readonly providers?: readonly string[];
  /** GPU models the task accepts (`A100`, `T4`); the agent's `gpu.model` label must be one of them. */
  readonly gpuModels?: readonly string[];
  /** Labels the agent must carry with these exact values. */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * A task without what it carries for the agent (its command, its output): what the control loop reads. Planning and
 * placement never need the payload, and a pass over 100,000 pending tasks must not load megabytes of commands.
 */
export type TaskHeader = Omit<Task, 'command' | 'outputTail'>;

/** One unit of demand. */
export interface Task {
  readonly id: string;
  readonly owner: Owner;
  readonly resources: Resources;
  /** Higher runs first. */
  readonly priority: number;
  /** May run on spot capacity and may be preempted. */
  readonly revocable: boolean;
  readonly constraints: TaskConstraints;
  /** argv of the process to run; empty for demand-only tasks (a Slurm job, a simulated task). */
  readonly command: readonly string[];
  readonly state: TaskState;
  readonly agentId: string | null;
  readonly attempts: number;
  readonly createdAtMs: number;
  /** When the task last became pending (submission, or its return after a lost agent or preemption). */
  readonly pendingSinceMs: number;
  readonly startedAtMs: number | null;
  readonly finishedAtMs: number | null;
  readonly exitCode: number | null;
  /** The tail of the task's combined output, as the agent last reported it. */
  readonly outputTail: string;
  /** Why the task is in its state, for people: "returned to pending: agent a-12 lost". */
  readonly reason: string;
}
