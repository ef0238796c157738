import { formatUsd, type Micros } from '../core/money.ts';
import { scopeContains, type Budget } from './budget.ts';
import type { AgentExposure } from './budget-exposure.ts';

/**
 * What a hard cap stops, for the controller to carry out this pass:
 * - `stop-task`: return the task to pending with `reason` (`store.tasks.requeue(taskId, agentId, reason, nowMs)`);
 *   the agent's next heartbeat tells it to stop the process. The agent goes on for its other work.
 * - `terminate-agent`: drain and terminate the agent's instance (the provisioner's forced terminate); its tasks return
 *   to pending when the termination is confirmed.
 */
export type PreemptCommand =
  | {
      readonly kind: 'stop-task';
      readonly taskId: string;
      readonly agentId: string;
      readonly budgetId: string;
      readonly reason: string;
    }
  | {
      readonly kind: 'terminate-agent';
      readonly agentId: string;
      readonly providerId: string | null;
      readonly instanceId: string | null;
      readonly budgetId: string;
      readonly reason: string;
    };

/**
 * Chooses what to stop so a `preempt` budget's projected spend drops by `excessMicros` (pure apart from marking the
 * chosen stops on `exposures`, so the caller's later checks see them).
 *
 * Least disruptive first: the scope's own tasks on agents that other owners launched (the scope pays nothing there
 * once its tasks are gone, and the agent keeps serving the others), largest saving first; then whole agents the scope
 * pays for, largest saving first. When even stopping everything would not do, everything the scope pays for is
 * stopped: that is the most a hard cap can do.
 */
export function choosePreemptions(
  budget: Budget,
  excessMicros: Micros,
  exposures: readonly AgentExposure[],
  why: string,
): PreemptCommand[] {
  const { scope } = budget;
  const commands: PreemptCommand[] = [];
  let excess = excessMicros;

  // Stryker disable next-line ConditionalExpression,StringLiteral: a global scope finds no foreign agent
  if (scope.kind !== 'global') {
    const foreign = exposures
      .filter(
        // Stryker disable next-line ConditionalExpression,LogicalOperator: closed or ending agents save 0 here
        (e) => e.open && !e.terminated && !e.terminating && !e.idle.some((o) => scopeContains(scope, o.owner)),
      )
      .map((e) => {
        const taskIds = e.tasks
          .filter((t) => scopeContains(scope, t.owner) && !e.stoppedTaskIds.has(t.taskId))
          .map((t) => t.taskId);
        const before = e.exposure(scope);
        for (const id of taskIds) e.stoppedTaskIds.add(id);
        const saving = before - e.exposure(scope);
        for (const id of taskIds) e.stoppedTaskIds.delete(id);
        return { e, taskIds, saving };
      })
      .filter(
        // Stryker disable next-line ConditionalExpression,EqualityOperator: no task stopped saves 0
        (c) => c.taskIds.length > 0 && c.saving > 0,
      )
      .sort((a, b) => b.saving - a.saving || compare(a.e.agent.agentId, b.e.agent.agentId));
    for (const { e, taskIds, saving } of foreign) {
      if (excess <= 0) break;
      for (const taskId of taskIds) {
        e.stoppedTaskIds.add(taskId);
        commands.push({
          kind: 'stop-task',
          taskId,
          agentId: e.agent.agentId,
          budgetId: budget.id,
          reason: `${why}: returned to pending from agent ${e.agent.name}, saving up to ${formatUsd(saving, 4)}`,
        });
      }
      excess -= saving;
    }
  }

  const whole = exposures
    .filter((e) => e.open && !e.terminated && !e.terminating && e.touches(scope))
    .map((e) => {
      const before = e.exposure(scope);
      e.terminated = true;
      const saving = before - e.exposure(scope);
      e.terminated = false;
      return { e, saving };
    })
    .filter((c) => c.saving > 0)
    .sort((a, b) => b.saving - a.saving || compare(a.e.agent.agentId, b.e.agent.agentId));
  for (const { e, saving } of whole) {
    if (excess <= 0) break;
    e.terminated = true;
    const { agent } = e;
    commands.push({
      kind: 'terminate-agent',
      agentId: agent.agentId,
      providerId: agent.providerId,
      instanceId: agent.instanceId,
      budgetId: budget.id,
      reason:
        `${why}: terminating agent ${agent.name} (${agent.instanceType || 'instance'}, ${agent.lifecycle}), ` +
        `saving up to ${formatUsd(saving, 4)}`,
    });
    excess -= saving;
  }
  return commands;
}

function compare(a: string, b: string): number {
  // Stryker disable next-line EqualityOperator,ConditionalExpression: ids differ; sort reads only < 0
  return a < b ? -1 : a > b ? 1 : 0;
}
