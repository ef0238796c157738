import { normalizeGpuModel } from '../core/gpu-model.ts';
import type { Offering } from '../core/offering.ts';
import { RESOURCE_KEYS, type Resources } from '../core/resources.ts';
// The control loop plans on task headers: it never reads a command or an output.
import type { TaskHeader as Task } from '../core/task.ts';
import { eligible, offeringHost } from '../pool/builtin/eligibility.ts';

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
  const groups = new Map<
    string,
    { key: string; classIndex: number; priority: number; size: Resources; tasks: Task[] }
  >();
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
    const key = `${priority}|${r.cpuMillis}|${r.memoryMiB}|${r.gpus}|${r.netMbps}|${ci}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, classIndex: ci, priority, size: r, tasks: [] }));
    group.tasks.push(task);
  }
  const ordered = [...groups.values()];
  // Keys name classes by their first appearance; order ties by the class key itself, which input order cannot change.
  const tie = (g: { classIndex: number; key: string }): string => `${classes[g.classIndex]!.key}|${g.key}`;
  ordered.sort(
    (a, b) =>
      b.priority - a.priority ||
      packingSize(b.size) - packingSize(a.size) ||
      (tie(a) < tie(b) ? -1 : tie(a) > tie(b) ? 1 : 0),
  );
  return { classes, groups: ordered };
}

/** `result[c * offerings.length + o]` is 1 when class `c` may run on offering `o` (resources aside). */
export function classEligibility(classes: readonly TaskClass[], offerings: readonly Offering[]): Uint8Array {
  const result = new Uint8Array(classes.length * offerings.length);
  offerings.forEach((offering, o) => {
    const host = offeringHost(offering);
    classes.forEach((cls, c) => {
      if (eligible(cls.representative, host)) result[c * offerings.length + o] = 1;
    });
  });
  return result;
}

/** The four dimensions of a Resources as a plain array, in RESOURCE_KEYS order. */
export function toVector(r: Resources): number[] {
  return RESOURCE_KEYS.map((k) => r[k]);
}
