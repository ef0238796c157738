import type { TaskHeader } from '../core/task.ts';

/** Pending tasks that ask for the same thing: one entry for the planner and placement to consider once. */
export interface PendingClass {
  readonly key: string;
  /** Its tasks in the pending order (priority first, then longest waiting, then record order). */
  readonly tasks: readonly TaskHeader[];
}

/**
 * The class of a pending task: identical resources, constraints, revocability and owner scope (team and project).
 * Two tasks of one class fit, and are allowed, in exactly the same places.
 */
export function pendingClassKey(task: TaskHeader): string {
  const r = task.resources;
  return JSON.stringify([
    r.cpuMillis,
    r.memoryMiB,
    r.gpus,
    r.netMbps,
    task.revocable,
    task.owner.team,
    task.owner.project,
    canonical(task.constraints),
  ]);
}

/** Groups tasks (already in pending order) by class, classes in the order of their first task. */
export function groupByClass(pending: readonly TaskHeader[]): PendingClass[] {
  const classes = new Map<string, TaskHeader[]>();
  for (const task of pending) {
    const key = pendingClassKey(task);
    const tasks = classes.get(key);
    if (tasks === undefined) classes.set(key, [task]);
    else tasks.push(task);
  }
  return [...classes].map(([key, tasks]) => ({ key, tasks }));
}

/** The same value with object keys sorted, so `{a, b}` and `{b, a}` make one class. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
}
