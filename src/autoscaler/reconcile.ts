import { NOT_TERMINATED_AGENT_STATES } from '../core/agent.ts';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Policy } from '../core/policy.ts';
import type { Logger } from '../log/logger.ts';
import type { Pool } from '../pool/pool.ts';
import type { CloudProvider } from '../providers/provider.ts';
import type { Store } from '../store/store.ts';
import type { TerminateCommand } from './commands.ts';

export interface ReconcileContext {
  readonly store: Store;
  readonly pool: Pool;
  readonly providers: readonly CloudProvider[];
  readonly clusterId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: Policy;
}

/**
 * Makes the store agree with what the clouds really run. Instances tagged with a known launch intent are adopted
 * (a crash may have hidden the launch's answer); instances no intent explains are terminated after a grace period;
 * agents whose instance is gone are marked lost, their tasks returned to pending, and closed. A provider whose list
 * fails is skipped this time: nothing is concluded from a failed call.
 */
export async function reconcile(ctx: ReconcileContext): Promise<TerminateCommand[]> {
  const commands: TerminateCommand[] = [];
  for (const provider of ctx.providers) {
    const startedAtMs = ctx.clock.now();
    let instances;
    try {
      instances = await provider.list(ctx.clusterId);
    } catch (err) {
      ctx.logger.warn('skipped reconcile', { providerId: provider.id, error: errorMessage(err) });
      continue;
    }
    const now = ctx.clock.now();
    const live = new Set(instances.map((i) => i.id));
    for (const instance of instances) {
      const known = ctx.store.agents.byInstance(provider.id, instance.id);
      if (known?.state === 'terminated' && now - known.lastHeartbeatMs >= ctx.policy.unknownInstanceGraceMs) {
        // Its agent was closed, yet the instance still runs (a failed kill, a list that lags): end it again.
        commands.push({
          kind: 'terminate',
          agentId: known.id,
          providerId: provider.id,
          instanceId: instance.id,
          reason: `instance still runs though its agent ${known.id} was terminated`,
        });
      }
      if (known) continue;
      const intent = instance.intentId ? ctx.store.intents.get(instance.intentId) : undefined;
      if (intent?.kind === 'launch' && intent.providerId === provider.id) {
        ctx.store.intents.adoptInstances(intent.id, [instance.id], now);
        ctx.logger.info('adopted instance', { providerId: provider.id, instanceId: instance.id, intentId: intent.id });
      } else if (now - instance.launchedAtMs >= ctx.policy.unknownInstanceGraceMs) {
        commands.push({
          kind: 'terminate',
          agentId: null,
          providerId: provider.id,
          instanceId: instance.id,
          reason: `instance carries cluster ${ctx.clusterId}'s tag but no intent launched it`,
        });
      }
    }
    const agents = ctx.store.agents
      .list({ states: NOT_TERMINATED_AGENT_STATES })
      .filter((a) => a.providerId === provider.id && a.instanceId !== null);
    for (const agent of agents) {
      // An agent recorded after the list began may be missing from it without being gone.
      if (live.has(agent.instanceId!) || agent.registeredAtMs >= startedAtMs) continue;
      if (agent.state !== 'lost') ctx.pool.markLost(agent.id, 'its instance is gone at the provider', now);
      ctx.store.agents.setState(agent.id, 'terminated', 'instance gone at the provider', now);
      ctx.logger.warn('closed agent', { agentId: agent.id, instanceId: agent.instanceId, reason: 'instance gone' });
    }
  }
  return commands;
}
