import type { Agent } from '../core/agent.ts';
import { microsToUsd } from '../core/money.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { ApiMetrics } from './metrics.ts';
import { visitAgents } from './status.ts';

/**
 * Sets the pool's gauges for a scrape of /metrics: agents not terminated by state and location kind, what the cloud
 * agents not lost cost per hour, and the pending tasks. The agents come from the leading controller's model when
 * given (`fromModel`), else from the store a page at a time (`visitAgents`), so a scrape of a large pool never holds
 * the API up.
 */
export async function recordPoolGauges(
  store: AsyncStore,
  metrics: ApiMetrics,
  fromModel?: readonly Agent[],
): Promise<void> {
  const counts = new Map<string, { state: string; location_kind: string; n: number }>();
  let spendMicros = 0;
  await visitAgents(
    store,
    (agents) => {
      for (const agent of agents) {
        const key = `${agent.state}/${agent.location.kind}`;
        const entry = counts.get(key) ?? { state: agent.state, location_kind: agent.location.kind, n: 0 };
        entry.n++;
        counts.set(key, entry);
        if (agent.location.kind === 'cloud' && agent.state !== 'lost') spendMicros += agent.pricePerHourMicros;
      }
    },
    fromModel,
  );
  const pending = (await store.tasks.countByState()).pending;
  // Set together once everything is read: a scrape never sees the gauges half counted.
  metrics.agents.reset();
  for (const { state, location_kind, n } of counts.values()) metrics.agents.set({ state, location_kind }, n);
  metrics.cloudSpendPerHourUsd.set(microsToUsd(spendMicros));
  metrics.pendingTasks.set(pending);
}
