import type { Offering } from '../core/offering.ts';
import type { Policy } from '../core/policy.ts';
import type { Task } from '../core/task.ts';
import { fluidLowerBound } from '../cost-model/lower-bound.ts';
import type { Store } from '../store/store.ts';

/** The fluid lower bound of what the cloud work of a run must cost, and how much work it covers. */
export interface CloudBound {
  readonly usd: number;
  /** Task-hours run on cloud agents, which the bound prices. */
  readonly taskHours: number;
}

/** The bound's scale: task-hours are counted in units of 1/SCALE hour (at most this many units in the LP). */
const MAX_UNITS = 200_000;

/**
 * The least any plan could pay for the task-hours a run ran on cloud agents, on the same offerings and policy: the
 * fluid relaxation of `cost-model/lower-bound.ts` with each class of identical tasks demanding its task-hours
 * instead of a count of tasks. The LP is linear and homogeneous in the demand, so with demand `floor(H_g * k)` and
 * cost divided by `k` it is still at most the bound of the exact task-hours (fewer tasks never cost more), and any
 * integral history of instances (each holding its running tasks at every instant, billed at least while up) costs at
 * least the bound. Idle time, boot time and billing minimums only add to a real run's cost.
 */
export async function cloudWorkBound(
  store: Store,
  window: { fromMs: number; toMs: number },
  offerings: readonly Offering[],
  policy: Policy,
): Promise<CloudBound> {
  const ledger = store.ledger.overlapping(window.fromMs, window.toMs);
  const cloudAgents = new Set(ledger.agents.filter((a) => a.lifecycle !== 'private').map((a) => a.agentId));
  const hoursByClass = new Map<string, { task: Task; hours: number }>();
  let total = 0;
  for (const usage of ledger.usage) {
    if (!cloudAgents.has(usage.agentId)) continue;
    const hours = (Math.min(usage.endMs ?? window.toMs, window.toMs) - usage.startMs) / 3_600_000;
    if (!(hours > 0)) continue;
    const task = store.tasks.get(usage.taskId);
    if (!task) continue;
    const key = JSON.stringify([task.resources, task.constraints, task.revocable]);
    const entry = hoursByClass.get(key);
    if (entry) entry.hours += hours;
    else hoursByClass.set(key, { task, hours });
    total += hours;
  }
  if (total === 0) return { usd: 0, taskHours: 0 };
  const k = MAX_UNITS / total;
  const demand: Task[] = [];
  for (const { task, hours } of hoursByClass.values()) {
    const units = Math.floor(hours * k);
    for (let i = 0; i < units; i++) demand.push({ ...task, id: `${task.id}#${i}`, priority: 0 });
  }
  const bound = await fluidLowerBound(demand, offerings, { ...policy, paused: false });
  return { usd: bound.costPerHourMicros / k / 1_000_000, taskHours: total };
}
