import { normalizeGpuModel } from '../core/gpu-model.ts';
import type { Offering } from '../core/offering.ts';
import { RESOURCE_KEYS, type Resources } from '../core/resources.ts';
// The control loop plans on task headers: it never reads a command or an output.
import type { TaskHeader as Task } from '../core/task.ts';
import { OfferingTable } from './planner-offering-table.ts';

/** Tasks that may run on exactly the same hosts: same revocability and the same constraints. */
export interface TaskClass {
  readonly key: string;
  /** Any task of the class: eligibility is decided on it for the whole class. */
  readonly representative: Task;
}

/** Tasks of one class, one shape and one priority: the unit the planner and the lower bound work in. */
export interface TaskGroup {
  readonly key: string;
  readonly classIndex: number;
  readonly priority: number;
  readonly size: Resources;
  /** In input order. */
  readonly tasks: readonly Task[];
}

export interface Grouping {
  readonly classes: readonly TaskClass[];
  /** Highest priority first, then largest (packing size) first, then by key: the planning order. */
  readonly groups: readonly TaskGroup[];
}

/** The order tasks are packed in, biggest first: GPUs weigh most, then CPUs, memory and bandwidth. */
export function packingSize(r: Resources): number {
  return r.gpus * 16 + r.cpuMillis / 1000 + r.memoryMiB / 4096 + r.netMbps / 10_000;
}

/** A key equal for two tasks exactly when the eligibility rules treat them alike on every host. */
export function classKey(task: Task): string {
  const c = task.constraints;
  // Most tasks have no constraints: a short key without building JSON.
  if (
    !c.privateOnly &&
    !c.providers?.length &&
    !c.gpuModels?.length &&
    (!c.labels || Object.keys(c.labels).length === 0)
  ) {
    return task.revocable ? 'revocable' : 'steady';
  }
  const sorted = (xs: readonly string[] | undefined): string[] => [...(xs ?? [])].sort();
  return JSON.stringify([
    task.revocable,
    c.privateOnly === true,
    sorted(c.providers),
    sorted(c.gpuModels?.map(normalizeGpuModel)),
    Object.entries(c.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
}

/**
 * Groups tasks by class, shape and (when `byPriority`) priority. Within a group, tasks keep their input order (the
 * queue's: highest priority, then oldest, first). Deterministic: the same input gives the same groups.
 */
export function groupTasks(tasks: readonly Task[], opts: { byPriority?: boolean } = {}): Grouping {
  const byPriority = opts.byPriority ?? true;
  const classIndex = new Map<string, number>();
  const classes: TaskClass[] = [];
  type Group = { key: string; classIndex: number; priority: number; size: Resources; tasks: Task[] };
  const groups: Group[] = [];
  // Found by CPU, then memory, then among the few left: no key string per task (a plan may read a million).
  const byShape = new Map<number, Map<number, Group[]>>();
  for (const task of tasks) {
    const ck = classKey(task);
    let ci = classIndex.get(ck);
    if (ci === undefined) {
      ci = classes.length;
      classIndex.set(ck, ci);
      classes.push({ key: ck, representative: task });
    }
    const r = task.resources;
    const priority = byPriority ? task.priority : 0;
    let byMemory = byShape.get(r.cpuMillis);
    if (!byMemory) byShape.set(r.cpuMillis, (byMemory = new Map()));
    let candidates = byMemory.get(r.memoryMiB);
    if (!candidates) byMemory.set(r.memoryMiB, (candidates = []));
    let group: Group | undefined;
    for (const g of candidates) {
      if (g.classIndex === ci && g.priority === priority && g.size.gpus === r.gpus && g.size.netMbps === r.netMbps) {
        group = g;
        break;
      }
    }
    if (!group) {
      const key = `${priority}|${r.cpuMillis}|${r.memoryMiB}|${r.gpus}|${r.netMbps}|${ci}`;
      candidates.push((group = { key, classIndex: ci, priority, size: r, tasks: [] }));
      groups.push(group);
    }
    group.tasks.push(task);
  }
  return { classes, groups: planningOrder(groups, classes) };
}

/**
 * Pending tasks handed over already in classes (the controller's in-memory model keeps them so): every task of one
 * class has the same resources, constraints, revocability and priority. A class may be finer than that (the model
 * splits by owner scope too): classes with the same of all four are planned as one group.
 */
export interface PendingClass {
  /** In queue order. */
  readonly tasks: readonly Task[];
  /**
   * Each task's place in the whole pending queue (highest priority, then oldest, first), parallel to `tasks`:
   * ascending within a class, distinct and comparable across classes (the task's index in the ordered pending list,
   * or any numbers that sort the tasks as that list does).
   */
  readonly ranks: ArrayLike<number>;
}

/**
 * `groupTasks` over tasks handed over in classes: the same classes and groups (each group's tasks in queue order)
 * that `groupTasks` gives for all the classes' tasks listed by rank, at the cost of the classes (one class key and
 * one group key each) plus a merge by rank where several classes fall into one group, not a key per task.
 * Classes without tasks are ignored. Not checked: that a class's tasks really share the four (a task that differs is
 * planned as its class's first task).
 */
export function groupClasses(pending: readonly PendingClass[]): Grouping {
  const live = pending.filter((c) => c.tasks.length > 0);
  // Number classes as groupTasks does: by their first task in the queue.
  const firsts = new Map<string, { key: string; rank: number; representative: Task }>();
  const keys = live.map((c) => {
    const key = classKey(c.tasks[0]!);
    const rank = c.ranks[0]!;
    const known = firsts.get(key);
    if (!known || rank < known.rank) firsts.set(key, { key, rank, representative: c.tasks[0]! });
    return key;
  });
  const numbered = [...firsts.values()].sort((a, b) => a.rank - b.rank);
  const classIndex = new Map(numbered.map((c, i) => [c.key, i]));
  const classes: TaskClass[] = numbered.map((c) => ({ key: c.key, representative: c.representative }));
  const members = new Map<string, { classIndex: number; priority: number; size: Resources; runs: PendingClass[] }>();
  live.forEach((c, i) => {
    const ci = classIndex.get(keys[i]!)!;
    const first = c.tasks[0]!;
    const r = first.resources;
    const key = `${first.priority}|${r.cpuMillis}|${r.memoryMiB}|${r.gpus}|${r.netMbps}|${ci}`;
    const group = members.get(key);
    if (group) group.runs.push(c);
    else members.set(key, { classIndex: ci, priority: first.priority, size: r, runs: [c] });
  });
  const groups = [...members].map(([key, g]): TaskGroup => ({
    key,
    classIndex: g.classIndex,
    priority: g.priority,
    size: g.size,
    tasks: mergeByRank(g.runs),
  }));
  return { classes, groups: planningOrder(groups, classes) };
}

/** The tasks of several classes in one list by rank (ties: the earlier class first). */
function mergeByRank(runs: readonly PendingClass[]): readonly Task[] {
  if (runs.length === 1) return runs[0]!.tasks;
  let merged: PendingClass[] = [...runs];
  // Pairwise, like a merge sort's last passes: n log(runs) steps.
  while (merged.length > 1) {
    const next: PendingClass[] = [];
    for (let i = 0; i < merged.length; i += 2)
      next.push(i + 1 < merged.length ? mergeTwo(merged[i]!, merged[i + 1]!) : merged[i]!);
    merged = next;
  }
  return merged[0]!.tasks;
}

function mergeTwo(a: PendingClass, b: PendingClass): PendingClass {
  const n = a.tasks.length + b.tasks.length;
  const tasks = new Array<Task>(n);
  const ranks = new Float64Array(n);
  let i = 0;
  let j = 0;
  for (let k = 0; k < n; k++) {
    if (j >= b.tasks.length || (i < a.tasks.length && a.ranks[i]! <= b.ranks[j]!)) {
      tasks[k] = a.tasks[i]!;
      ranks[k] = a.ranks[i++]!;
    } else {
      tasks[k] = b.tasks[j]!;
      ranks[k] = b.ranks[j++]!;
    }
  }
  return { tasks, ranks };
}

/** Highest priority first, then largest (packing size) first, then by class key and group key: the planning order. */
function planningOrder(groups: TaskGroup[], classes: readonly TaskClass[]): TaskGroup[] {
  // Keys name classes by their first appearance; order ties by the class key itself, which input order cannot change.
  const tie = (g: { classIndex: number; key: string }): string => `${classes[g.classIndex]!.key}|${g.key}`;
  return groups.sort(
    (a, b) =>
      b.priority - a.priority ||
      packingSize(b.size) - packingSize(a.size) ||
      (tie(a) < tie(b) ? -1 : tie(a) > tie(b) ? 1 : 0),
  );
}

/**
 * `result[c * offerings.length + o]` is 1 when class `c` may run on offering `o` (resources aside). Classes are told
 * apart by their key (`classKey`, which decides eligibility): each key's row is derived once per list of offerings.
 */
export function classEligibility(classes: readonly TaskClass[], offerings: readonly Offering[]): Uint8Array {
  const result = new Uint8Array(classes.length * offerings.length);
  // Each class's row is derived once per list of offerings (planner-offering-table.ts), not once per plan.
  const table = OfferingTable.of(offerings);
  classes.forEach((cls, c) => result.set(table.eligibility(cls), c * offerings.length));
  return result;
}

/** The four dimensions of a Resources as a plain array, in RESOURCE_KEYS order. */
export function toVector(r: Resources): number[] {
  return RESOURCE_KEYS.map((k) => r[k]);
}
