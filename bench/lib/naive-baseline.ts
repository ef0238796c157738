import type { Offering } from '../../src/core/offering.ts';
import type { Policy } from '../../src/core/policy.ts';
import { fits, subtract, type Resources } from '../../src/core/resources.ts';
import type { Task } from '../../src/core/task.ts';
import { allowedOfferings } from '../../src/cost-model/price-book-filter.ts';
import { eligible, offeringHost } from '../../src/pool/builtin/eligibility.ts';

export interface NaivePlan {
  readonly instanceType: string;
  readonly instances: number;
  readonly costPerHourMicros: number;
  readonly coveredTasks: readonly Task[];
}

/**
 * The naive baseline: one fixed instance type, on-demand, first fit in arrival order. The type is the cheapest
 * allowed on-demand offering that can run every task of the workload (the one node type an operator would pick to
 * run anything); when none can run them all, the one that runs the most, cheapest first.
 */
export function naivePlan(tasks: readonly Task[], offerings: readonly Offering[], policy: Policy): NaivePlan {
  const candidates = allowedOfferings(policy, offerings).filter((o) => o.lifecycle === 'on-demand');
  let fixed: Offering | undefined;
  let most = -1;
  for (const o of candidates) {
    const host = offeringHost(o);
    const n = tasks.filter((t) => fits(t.resources, o.capacity) && eligible(t, host)).length;
    if (n > most) [fixed, most] = [o, n];
    if (n === tasks.length) break;
  }
  if (!fixed) return { instanceType: '-', instances: 0, costPerHourMicros: 0, coveredTasks: [] };
  const host = offeringHost(fixed);
  const bins: Resources[] = [];
  const covered: Task[] = [];
  for (const task of tasks) {
    if (!fits(task.resources, fixed.capacity) || !eligible(task, host)) continue;
    const i = bins.findIndex((free) => fits(task.resources, free));
    if (i >= 0) bins[i] = subtract(bins[i]!, task.resources);
    else bins.push(subtract(fixed.capacity, task.resources));
    covered.push(task);
  }
  return {
    instanceType: fixed.instanceType,
    instances: bins.length,
    costPerHourMicros: bins.length * fixed.pricePerHourMicros,
    coveredTasks: covered,
  };
}
