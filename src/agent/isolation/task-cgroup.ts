import type { Resources } from '../../core/resources.ts';
import type { IsolationMode, TaskUsage } from './isolation.ts';

/** One task's cgroup (in each v1 hierarchy it needs, or one v2 folder). */
export interface TaskCgroup {
  /** Moves a process into the cgroup. Throws an IsolationError. */
  attach(pid: number): void;
  /**
   * Lets processes of `uid` move themselves into this cgroup (and only this one): the `cgroup.procs` files, chowned
   * to it, which a task's first process writes its pid to. Empty when the cgroup version does not allow it (v2 asks
   * for write access to the common ancestor), and the agent attaches the process instead.
   */
  delegateAttach(uid: number): string[];
  /** Every process in the cgroup now. */
  pids(): number[];
  /**
   * SIGKILLs every process of the cgroup, those that left the task's process group included: the cgroup is frozen
   * first (nothing forks meanwhile), then thawed so the kills are delivered. Synchronous; harmless when empty.
   */
  killEverything(): void;
  usage(): TaskUsage;
  /** How many processes the kernel's OOM killer ended in the cgroup. */
  oomKills(): number;
  /**
   * Removes the cgroup once its processes are gone, retrying in the background for a few seconds; then calls
   * `removed` (also when it gave up). The task's uid must not be leased again before: the cgroup is named after it,
   * and a removal still pending would remove the next task's cgroup before that task joined it.
   */
  remove(removed?: () => void): void;
}

/** Creates task cgroups under the agent's own cgroup: one implementation per cgroup version. */
export interface CgroupDriver {
  readonly mode: Exclude<IsolationMode, 'none'>;
  /**
   * Creates (or empties and reuses) the cgroup `name` with memory limit = `resources.memoryMiB`, CPU quota =
   * `resources.cpuMillis` and at most `pidsLimit` processes; a zero request sets no limit. Throws an IsolationError.
   */
  create(name: string, resources: Resources, pidsLimit: number): TaskCgroup;
}

/** CFS period for CPU quotas: 100 ms, the kernel's default. */
export const CPU_PERIOD_US = 100_000;

/** The CPU quota for `cpuMillis` per CFS period; the kernel refuses quotas under 1 ms. */
export function cpuQuotaUs(cpuMillis: number): number {
  return Math.max(1_000, Math.round((cpuMillis * CPU_PERIOD_US) / 1_000));
}
