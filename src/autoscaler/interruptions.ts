import type { Agent } from '../core/agent.ts';
import { INTERRUPTION_REASON } from '../core/interruption.ts';
import { offeringKey } from '../core/offering.ts';
import type { Policy } from '../core/policy.ts';
// The control loop plans on task headers: it never reads a command or an output.
import type { TaskHeader as Task } from '../core/task.ts';
import { LABEL_INSTANCE_TYPE } from '../providers/local/offerings.ts';

/**
 * The pending tasks as the planner should see them: a task a spot interruption returned to pending has served its
 * grace period once already, so it counts as due now and its replacement capacity is planned in this pass, within the
 * two minutes' notice, rather than `pendingGraceMs` later. Pure.
 */
export function dueAfterInterruption(pending: readonly Task[], nowMs: number, policy: Policy): readonly Task[] {
  const dueSinceMs = nowMs - policy.pendingGraceMs;
  return pending.map((task) =>
    task.reason === INTERRUPTION_REASON && task.pendingSinceMs > dueSinceMs
      ? { ...task, pendingSinceMs: dueSinceMs }
      : task,
  );
}

/**
 * The offerings of agents draining on an interruption notice: the cloud is reclaiming that spot pool, so replacements
 * go to the next cheapest offering instead (as after a capacity error). Pure.
 */
export function interruptedOfferings(agents: readonly Agent[]): string[] {
  const keys = new Set<string>();
  for (const agent of agents) {
    if (agent.state !== 'draining' || agent.reason !== INTERRUPTION_REASON) continue;
    const instanceType = agent.labels[LABEL_INSTANCE_TYPE];
    if (agent.location.kind !== 'cloud' || !agent.providerId || !instanceType || agent.lifecycle === 'private')
      continue;
    keys.add(
      offeringKey({
        providerId: agent.providerId,
        zone: agent.location.zone,
        instanceType,
        lifecycle: agent.lifecycle,
      }),
    );
  }
  return [...keys];
}
