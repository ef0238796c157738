import { fits, subtract, type Resources } from '../../core/resources.ts';
import type { Task } from '../../core/task.ts';
import { eligible, type Host } from '../builtin/eligibility.ts';
import { jobIdOf } from './slurm-jobs.ts';

/** A live cloud node Slurm may place pending jobs on, and its room left. */
export interface CloudRoom {
  readonly node: string;
  readonly host: Host;
  readonly free: Resources;
}

/**
 * The pending tasks that the free room of live cloud nodes does not cover (pure), and the nodes that cover some. Slurm
 * places jobs itself, and may take a while to start a pending job on a node that joined for it; until it does, the
 * job is still pending, and without this it would be planned a second instance. A task is covered by the first node,
 * in the given order, it is eligible for and fits in; a node takes at most one task of a job (one task per node a job
 * asks for). The order of the tasks left is kept.
 */
export function uncoveredByRoom(
  tasks: readonly Task[],
  rooms: readonly CloudRoom[],
): { readonly left: Task[]; readonly covering: ReadonlySet<string> } {
  const covering = new Set<string>();
  if (rooms.length === 0) return { left: [...tasks], covering };
  const free = rooms.map((r) => r.free);
  const jobsOn = rooms.map(() => new Set<number>());
  const left: Task[] = [];
  for (const task of tasks) {
    const jobId = jobIdOf(task.id);
    const i = rooms.findIndex(
      (room, k) =>
        fits(task.resources, free[k]!) && (jobId === undefined || !jobsOn[k]!.has(jobId)) && eligible(task, room.host),
    );
    if (i < 0) {
      left.push(task);
      continue;
    }
    free[i] = subtract(free[i]!, task.resources);
    if (jobId !== undefined) jobsOn[i]!.add(jobId);
    covering.add(rooms[i]!.node);
  }
  return { left, covering };
}
