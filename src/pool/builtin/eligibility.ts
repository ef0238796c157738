import type { Agent } from '../../core/agent.ts';
import { gpuModelMatches } from '../../core/gpu-model.ts';
import type { Offering } from '../../core/offering.ts';
// The control loop plans on task headers: it never reads a command or an output.
import type { TaskHeader as Task } from '../../core/task.ts';

/** What a task's constraints look at: an agent, or an offering before it is launched. */
export interface Host {
  readonly kind: 'private' | 'cloud';
  /** Provider id (`aws-ec2:us-east-1`); null for private. */
  readonly providerId: string | null;
  /** Provider kind (`aws-ec2`); null for private. */
  readonly provider: string | null;
  readonly lifecycle: 'private' | 'on-demand' | 'spot';
  readonly labels: Readonly<Record<string, string>>;
}

export function agentHost(agent: Agent): Host {
  return {
    kind: agent.location.kind,
    providerId: agent.providerId,
    provider: agent.location.kind === 'cloud' ? agent.location.provider : null,
    lifecycle: agent.lifecycle,
    labels: agent.labels,
  };
}

export function offeringHost(offering: Offering): Host {
  return {
    kind: 'cloud',
    providerId: offering.providerId,
    provider: offering.provider,
    lifecycle: offering.lifecycle,
    labels: offering.labels,
  };
}

/**
 * Whether a task may run on a host, resources aside: private-only tasks never leave the private cluster, only
 * revocable tasks run on spot, and provider, GPU model and label constraints hold. GPU models match by the rule in
 * `core/gpu-model.ts` (`A100` matches `A100-40GB`).
 */
export function eligible(task: Task, host: Host): boolean {
  const c = task.constraints;
  if (host.kind === 'cloud') {
    if (c.privateOnly) return false;
    if (c.providers?.length && !c.providers.some((p) => p === host.providerId || p === host.provider)) return false;
  }
  if (host.lifecycle === 'spot' && !task.revocable) return false;
  if (c.gpuModels?.length) {
    const model = host.labels['gpu.model'];
    if (!model || !c.gpuModels.some((m) => gpuModelMatches(m, model))) return false;
  }
  if (c.labels) {
    for (const [key, value] of Object.entries(c.labels)) if (host.labels[key] !== value) return false;
  }
  return true;
}
