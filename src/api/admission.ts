import { ValidationError } from '../core/errors.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { NewTask } from '../store/store.ts';
import { HttpError } from './errors.ts';

/**
 * What one task may ask for (issue 13): values past these are a typo or an attack, never a real task, and a value
 * that is not finite would be stored as Infinity and read back as null.
 */
export const RESOURCE_BOUNDS = {
  cpuMillis: 4_096_000,
  /** 64 TiB. */
  memoryMiB: 64 * 1024 * 1024,
  gpus: 64,
  netMbps: 400_000,
} as const;

/** The default of `api.maxTaskPayloadBytes`: a task's command plus environment, in UTF-8 bytes. */
export const DEFAULT_MAX_TASK_PAYLOAD_BYTES = 64 * 1024;

/** How long a team over its pending quota is told to wait before it submits again. */
export const PENDING_QUOTA_RETRY_AFTER_S = 30;

/** The UTF-8 size of what a task carries to its agent: every argument of its command (and, when set, its env). */
export function payloadBytes(
  task: Pick<NewTask, 'command'> & { readonly env?: Readonly<Record<string, string>> },
): number {
  let bytes = 0;
  for (const arg of task.command) bytes += Buffer.byteLength(arg, 'utf8');
  for (const [key, value] of Object.entries(task.env ?? {})) bytes += Buffer.byteLength(key + value, 'utf8') + 1;
  return bytes;
}

/** ValidationError on `tasks.N.command` for the first task whose payload passes `maxBytes`. */
export function checkPayloads(tasks: readonly NewTask[], maxBytes: number): void {
  tasks.forEach((task, index) => {
    const bytes = payloadBytes(task);
    if (bytes > maxBytes) {
      throw new ValidationError(
        `tasks.${index}.command`,
        `the command and environment take ${bytes} bytes, over the limit of ${maxBytes}; pass large inputs as files`,
      );
    }
  });
}

/**
 * Refuses a submission that would take a team past `maxPendingPerTeam` pending tasks: rejects with HttpError 429
 * with `Retry-After`, naming the team, its pending count and the limit. Call it inside the transaction that inserts,
 * so two submissions cannot both pass on the same count. Without a limit, every submission passes.
 */
export async function checkPendingQuota(
  store: AsyncStore,
  tasks: readonly NewTask[],
  maxPendingPerTeam: number | undefined,
): Promise<void> {
  if (maxPendingPerTeam === undefined) return;
  const adding = new Map<string, number>();
  for (const task of tasks) adding.set(task.owner.team, (adding.get(task.owner.team) ?? 0) + 1);
  for (const [team, count] of [...adding].sort(([a], [b]) => a.localeCompare(b))) {
    const pending = await store.tasks.countPending(team);
    if (pending + count > maxPendingPerTeam) {
      throw new HttpError(
        429,
        'too_many_requests',
        `submitting ${count} tasks for team ${team}: it has ${pending} pending and policy.limits.maxPendingPerTeam ` +
          `is ${maxPendingPerTeam}; retry when some have started`,
        { 'retry-after': String(PENDING_QUOTA_RETRY_AFTER_S) },
      );
    }
  }
}
