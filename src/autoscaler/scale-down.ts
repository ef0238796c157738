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
  /**
   * How long a replacement for this cloud agent would take to boot: its launched offering's `bootMs`. Undefined (or
   * no function) keeps an idle agent for the whole `idleTtlMs`.
   */
  readonly relaunchMsOf?: (agent: Agent) => number | undefined;
}

/** A relaunched instance bills at least this much (EC2 and GCE: 60 s), however soon it is released. */
export const MIN_BILLED_MS = 60_000;

/**
 * How long an idle cloud agent is kept before it is released: the ski-rental rule. Keeping it idle costs its price
 * per second; releasing it and launching the same offering again when work comes costs its price for the boot (at
 * least the billing minimum), and the work waits for that boot. Keeping the agent until its idle time has cost what
 * a relaunch would, and then releasing it, never pays more than twice what knowing the next task's arrival would
 * have: so an idle agent goes after max(relaunchMs, MIN_BILLED_MS), and never later than the policy's `idleTtlMs`.
 */
export function idleReleaseAfterMs(policy: Pick<Policy, 'idleTtlMs'>, relaunchMs: number | undefined): number {
  if (relaunchMs === undefined) return policy.idleTtlMs;
  return Math.min(policy.idleTtlMs, Math.max(relaunchMs, MIN_BILLED_MS));
}

/**
 * Chooses cloud agents to release (pure). Private agents are never terminated. A cloud agent goes when it has been
 * idle for `idleReleaseAfterMs` (at most idleTtlMs), when it was drained and its work is done, when it did not register within maxProvisionMs, or
 * when it was lost (its instance may still be running and billing).
 */
export function scaleDown(input: ScaleDownInput): TerminateCommand[] {
  const { nowMs, policy } = input;
  const commands: TerminateCommand[] = [];
  for (const agent of input.agents) {
    if (agent.location.kind !== 'cloud' || !agent.instanceId || !agent.providerId) continue;
    if (input.terminating.has(`${agent.providerId}/${agent.instanceId}`)) continue;
    const reason = releaseReason(agent, nowMs, policy, input.relaunchMsOf);
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

function releaseReason(
  agent: Agent,
  nowMs: number,
  policy: Policy,
  relaunchMsOf: ScaleDownInput['relaunchMsOf'],
): string | undefined {
  const idle = isZero(agent.allocated);
  switch (agent.state) {
    case 'registered': {
      if (!idle || agent.idleSinceMs === null) return undefined;
      const idleMs = nowMs - agent.idleSinceMs;
      if (idleMs >= policy.idleTtlMs) return `idle for ${seconds(idleMs)} s (idleTtlMs ${policy.idleTtlMs})`;
      const afterMs = idleReleaseAfterMs(policy, relaunchMsOf?.(agent));
      if (idleMs >= afterMs) return `idle for ${seconds(idleMs)} s: what a relaunch would bill (${seconds(afterMs)} s)`;
      return undefined;
    }
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
