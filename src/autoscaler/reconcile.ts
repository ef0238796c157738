import { NOT_TERMINATED_AGENT_STATES, type Agent } from '../core/agent.ts';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Policy } from '../core/policy.ts';
import type { Logger } from '../log/logger.ts';
import type { Pool } from '../pool/pool.ts';
import type { CloudProvider } from '../providers/provider.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { TerminateCommand } from './commands.ts';

export interface ReconcileContext {
  readonly store: AsyncStore;
  readonly pool: Pool;
  readonly providers: readonly CloudProvider[];
  readonly clusterId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly policy: Policy;
  /** Told about listed instances without the cluster's tag: never adopted or terminated (for metrics). */
  readonly onForeign?: (providerId: string, instanceIds: readonly string[]) => void;
  /**
   * The agents not terminated, as of now (the controller's in-memory model, caught up); default reads the store.
   */
  readonly liveAgents?: () => Promise<readonly Agent[]>;
  /**
   * Lets other work run (the controller: a turn of the event loop, so the API answers) after every slice of listed
   * instances, each of which costs a store read, and before each provider's scan of every live agent; default none.
   * It changes when reconcile pauses, never what it does.
   */
  readonly pause?: () => Promise<void>;
}

/** Listed instances looked up between two pauses: about 5 ms of store reads. */
const PAUSE_EVERY = 1_000;

/**
 * Makes the store agree with what the clouds really run. Instances tagged with a known launch intent are adopted
 * (a crash may have hidden the launch's answer); instances no intent explains are terminated after a grace period;
 * agents whose instance is gone are marked lost, their tasks returned to pending, and closed. A provider whose list
 * fails is skipped this time: nothing is concluded from a failed call. Ownership is checked again here, where the harm
 * would be done: an instance that does not carry this cluster's tag is never adopted or terminated, whatever the
 * provider's list returned. A launch intent whose `count` instances are all found is complete: nothing launches it
 * again.
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
    const foreign = instances.filter((i) => i.clusterId !== ctx.clusterId);
    if (foreign.length > 0) {
      const instanceIds = foreign.map((i) => i.id);
      ctx.logger.warn('ignored foreign instances', { providerId: provider.id, instanceIds });
      ctx.onForeign?.(provider.id, instanceIds);
    }
    const owned = instances.filter((i) => i.clusterId === ctx.clusterId);
    const live = new Set(owned.map((i) => i.id));
    for (const [index, instance] of owned.entries()) {
      if (index > 0 && index % PAUSE_EVERY === 0) await ctx.pause?.();
      const known = await ctx.store.agents.byInstance(provider.id, instance.id);
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
      const intent = instance.intentId ? await ctx.store.intents.get(instance.intentId) : undefined;
      if (intent?.kind === 'launch' && intent.providerId === provider.id) {
        await ctx.store.intents.adoptInstances(intent.id, [instance.id], now);
        ctx.logger.info('adopted instance', { providerId: provider.id, instanceId: instance.id, intentId: intent.id });
        await completeIfFound(ctx, intent.id, now);
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
    // The lookups are one stretch, the scan of every live agent (50,000 at the benchmark's size) another.
    await ctx.pause?.();
    const agents = (
      await (ctx.liveAgents?.() ?? ctx.store.agents.list({ states: NOT_TERMINATED_AGENT_STATES }))
    ).filter(
      (a) => a.providerId === provider.id && a.instanceId !== null,
    );
    for (const agent of agents) {
      // An agent recorded after the list began may be missing from it without being gone, and so may a provisioning
      // one within the grace: lists are eventually consistent, and a new instance may be missing from them a while.
      // A registered agent's instance was there to register, so its absence counts at once.
      if (live.has(agent.instanceId!) || agent.registeredAtMs >= startedAtMs) continue;
      if (agent.state === 'provisioning' && now - agent.registeredAtMs < ctx.policy.unknownInstanceGraceMs) continue;
      if (agent.state !== 'lost') await ctx.pool.markLost(agent.id, 'its instance is gone at the provider', now);
      await ctx.store.agents.setState(agent.id, 'terminated', 'instance gone at the provider', now);
      ctx.logger.warn('closed agent', { agentId: agent.id, instanceId: agent.instanceId, reason: 'instance gone' });
    }
  }
  return commands;
}

/** Completes a pending launch intent once all its `count` instances are known: it is not sent again. */
async function completeIfFound(ctx: ReconcileContext, intentId: string, nowMs: number): Promise<void> {
  const intent = await ctx.store.intents.get(intentId);
  if (intent?.kind !== 'launch' || intent.state !== 'pending' || intent.instanceIds.length < intent.count) return;
  await ctx.store.intents.completeLaunch(intent.id, [], nowMs);
  ctx.logger.info('completed launch from found instances', { intentId, instanceIds: intent.instanceIds });
}
