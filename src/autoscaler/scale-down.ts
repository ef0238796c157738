import type { Agent } from '../core/agent.ts';
import type { Policy } from '../core/policy.ts';
import { isZero } from '../core/resources.ts';
import type { TerminateCommand } from './commands.ts';

export interface ScaleDownInput {
  readonly nowMs: number;
  readonly policy: Policy;
  /** Live and lost agents. */
  readonly agents: readonly Agent[];
  /** `providerId/instanceId` of instances with a terminate intent already open. */
  readonly terminating: ReadonlySet<string>;
}

/**
 * Chooses cloud agents to release (pure). Private agents are never terminated. A cloud agent goes when it has been
 * idle for idleTtlMs, when it was drained and its work is done, when it did not register within maxProvisionMs, or
 * when it was lost (its instance may still be running and billing).
 */
export function scaleDown(input: ScaleDownInput): TerminateCommand[] {
  const { nowMs, policy } = input;
  const commands: TerminateCommand[] = [];
  for (const agent of input.agents) {
    if (agent.location.kind !== 'cloud' || !agent.instanceId || !agent.providerId) continue;
    if (input.terminating.has(`${agent.providerId}/${agent.instanceId}`)) continue;
    const reason = releaseReason(agent, nowMs, policy);
    if (reason) {
      commands.push({
        kind: 'terminate',
        agentId: agent.id,
        providerId: agent.providerId,
        instanceId: agent.instanceId,
        reason,
      });
    }
  }
  return commands;
}

function releaseReason(agent: Agent, nowMs: number, policy: Policy): string | undefined {
  const idle = isZero(agent.allocated);
  switch (agent.state) {
    case 'registered':
      if (idle && agent.idleSinceMs !== null && nowMs - agent.idleSinceMs >= policy.idleTtlMs) {
        return `idle for ${seconds(nowMs - agent.idleSinceMs)} s (idleTtlMs ${policy.idleTtlMs})`;
      }
      return undefined;
    case 'draining':
      return idle ? `drained (${agent.reason || 'draining'})` : undefined;
    case 'provisioning':
      return nowMs - agent.registeredAtMs >= policy.maxProvisionMs
        ? `did not register within maxProvisionMs ${policy.maxProvisionMs}`
        : undefined;
    case 'lost':
      return `agent lost (${agent.reason || 'no heartbeat'})`;
    default:
      return undefined;
  }
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
