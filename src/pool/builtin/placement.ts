import type { Agent } from '../../core/agent.ts';
import { fits, RESOURCE_KEYS, subtract, type Resources } from '../../core/resources.ts';
// The control loop plans on task headers: it never reads a command or an output.
import type { TaskHeader as Task } from '../../core/task.ts';
import type { Placement } from '../pool.ts';
import { agentHost, eligible } from './eligibility.ts';

export interface PlacementOptions {
  /** A further check before a task goes to a cloud agent (budgets); default allows all. */
  readonly allowCloud?: (task: Task, agent: Agent) => boolean;
  /** Only agents that isolate their tasks (not `isolation: none`) get tasks; default false. */
  readonly requireIsolation?: boolean;
}

interface Bin {
  readonly agent: Agent;
  free: Resources;
}

/**
 * Places pending tasks on free room (pure). Tasks go in the order given (priority first); each goes to a private agent
 * if one fits, else to a registered cloud agent. Among fitting agents the fullest wins (best fit), so load
 * concentrates and cloud agents empty out to be released. A task that fits nowhere does not block smaller ones.
 */
export function placeTasks(pending: readonly Task[], agents: readonly Agent[], opts: PlacementOptions = {}): Placement[] {
  const bins: Bin[] = agents
    .filter((a) => a.state === 'registered' && (!opts.requireIsolation || isIsolated(a)))
    .map((agent) => ({ agent, free: subtract(agent.capacity, agent.allocated) }));
  const privateBins = bins.filter((b) => b.agent.location.kind === 'private');
  const cloudBins = bins.filter((b) => b.agent.location.kind === 'cloud');
  const placements: Placement[] = [];
  for (const task of pending) {
    const host =
      bestFit(task, privateBins) ??
      bestFit(task, cloudBins, (bin) => opts.allowCloud?.(task, bin.agent) ?? true);
    if (!host) continue;
    host.free = subtract(host.free, task.resources);
    const where = host.agent.location.kind === 'private' ? 'private' : `cloud (${host.agent.lifecycle})`;
    placements.push({ taskId: task.id, agentId: host.agent.id, reason: `fits on ${where} agent ${host.agent.name}` });
  }
  return placements;
}

/** Whether the agent runs its tasks under their own uid and cgroup. */
export function isIsolated(agent: Agent): boolean {
  return agent.isolation !== undefined && agent.isolation !== 'none';
}

/**
 * Of tasks left unplaced, those a registered agent without isolation has room for (by its free room now): the policy's
 * `requireIsolation` alone keeps them waiting. Maps task id -> that agent's name.
 */
export function keptOffByIsolation(unplaced: readonly Task[], agents: readonly Agent[]): Map<string, string> {
  const open = agents
    .filter((a) => a.state === 'registered' && !isIsolated(a))
    .map((agent) => ({ agent, free: subtract(agent.capacity, agent.allocated) }));
  const kept = new Map<string, string>();
  if (open.length === 0) return kept;
  for (const task of unplaced) {
    const bin = bestFit(task, open, (b) => b.agent.location.kind === 'private' || !task.constraints.privateOnly);
    if (bin) kept.set(task.id, bin.agent.name);
  }
  return kept;
}

function bestFit(task: Task, bins: readonly Bin[], allow: (bin: Bin) => boolean = () => true): Bin | undefined {
  let best: Bin | undefined;
  let bestLeft = Infinity;
  for (const bin of bins) {
    if (!fits(task.resources, bin.free) || !eligible(task, agentHost(bin.agent)) || !allow(bin)) continue;
    const left = freeFraction(subtract(bin.free, task.resources), bin.agent.capacity);
    if (left < bestLeft) {
      best = bin;
      bestLeft = left;
    }
  }
  return best;
}

/** How empty an agent would be: the sum over dimensions of free / capacity. Lower is fuller. */
function freeFraction(free: Resources, capacity: Resources): number {
  let sum = 0;
  for (const key of RESOURCE_KEYS) if (capacity[key] > 0) sum += free[key] / capacity[key];
  return sum;
}
