import type { Resources } from '../../core/resources.ts';

/**
 * How an agent keeps its tasks apart from itself and from one another.
 * - `cgroup-v1`, `cgroup-v2`: each task runs as its own uid and gid from the agent's range, in a fresh 0700 folder
 *   owned by that uid, in its own cgroup holding the memory, CPU and process count it asked for.
 * - `none`: the agent is not root, so tasks run as the agent's user, in their own process group only.
 */
export const IsolationMode = { cgroupV1: 'cgroup-v1', cgroupV2: 'cgroup-v2', none: 'none' } as const;
export type IsolationMode = (typeof IsolationMode)[keyof typeof IsolationMode];

/** What a task used, measured by its cgroup; zero under `none`. */
export interface TaskUsage {
  readonly cpuSeconds: number;
  readonly peakMemoryBytes: number;
}

/** What the isolation needs to know of a task before it starts. */
export interface TaskSandboxRequest {
  readonly taskId: string;
  readonly resources: Resources;
  /** The task spec's own variables. */
  readonly env: Readonly<Record<string, string>>;
  /** The GPU indexes the agent assigned to the task, for CUDA_VISIBLE_DEVICES. */
  readonly gpuIndexes: readonly number[];
  /** The policy lets this task's team reach the cloud metadata service; default false. */
  readonly metadataAccess?: boolean;
}

/** How to start the task's process: the caller spawns it with exactly these. */
export interface SpawnPlan {
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly cwd: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  /**
   * True when the process must be held until `attach(pid)` has put it in its cgroup: the caller starts the task
   * behind a gate (a shell that waits for one line on stdin, then execs the command), so nothing it forks can run
   * outside the cgroup.
   */
  readonly gated: boolean;
  /**
   * Instead of the gate: cgroup files (`cgroup.procs`, owned by the task's uid) the process writes its own pid to
   * before it execs the command, so it is in its cgroup before anything of the task runs, with no round trip to the
   * agent. Empty: none.
   */
  readonly selfAttach: readonly string[];
}

/** One task's sandbox, from before its process starts until after it has ended. */
export interface TaskSandbox {
  readonly spawn: SpawnPlan;
  /** Puts the started (still gated) process in the task's cgroup. Throws an IsolationError when it cannot. */
  attach(pid: number): void;
  /**
   * Kills every process of the task, including those that left its process group (setsid, double fork): the cgroup
   * is frozen, each member gets SIGKILL, then it is thawed. Synchronous, so it can run in a process `exit` handler.
   * Under `none`, SIGKILLs the process group `pgid`. Harmless when nothing is left.
   */
  killAll(pgid: number | undefined): void;
  /** Sends `signal` to the task's processes (its process group): the polite first step before `killAll`. */
  signal(pgid: number | undefined, signal: NodeJS.Signals): void;
  /** CPU and peak memory so far. */
  usage(): TaskUsage;
  /** The reason the task failed when its cgroup's memory limit killed one of its processes, else undefined. */
  outOfMemoryReason(): string | undefined;
  /**
   * Frees what the sandbox holds once the task's processes are gone: kills leftovers, removes the cgroup, returns the
   * uid to the range and removes the working folder after the configured delay. Idempotent; never throws.
   */
  release(): void;
}

/** The isolation port: the agent asks it to start, measure and stop tasks. One implementation per cgroup version. */
export interface Isolation {
  readonly mode: IsolationMode;
  /** Creates the task's uid lease, folder and cgroup. Throws an IsolationError (retryable) when the range is full. */
  prepare(request: TaskSandboxRequest): TaskSandbox;
  /** Releases what outlives tasks (removal timers of working folders run at once). Idempotent. */
  close(): void;
}
