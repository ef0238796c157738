import type { Micros } from '../core/money.ts';
import { billedInWindow, billingEndMs, type AgentInterval, type TimeWindow } from './ledger.ts';

/** The resolutions history is kept at, each with its bucket and how far back it reaches. */
export const HISTORY_RESOLUTIONS = {
  minute: { bucketMs: 60_000, buckets: 24 * 60 },
  hour: { bucketMs: 3_600_000, buckets: 30 * 24 },
  day: { bucketMs: 86_400_000, buckets: 90 },
} as const;
export type HistoryResolution = keyof typeof HISTORY_RESOLUTIONS;

/** One bucket: the agents present at any time within it by location, and what each provider billed within it. */
export interface PoolBucket {
  readonly fromMs: number;
  readonly locations: Map<string, { agents: number; cpuMillis: number }>;
  readonly cloudMicros: Map<string, Micros>;
}

/**
 * The pool's size by location and the cloud spend by provider over time (pure), read from the ledger's agent
 * intervals: the ledger is the record of which machine was in the pool when and at what price, so the history needs
 * no second record and its resolution is bounded by its buckets, aligned to UTC multiples of the bucket's length,
 * the last holding `nowMs`. `locationOf` names an interval's location as the status does; `billed` is what a cloud
 * agent's time within a bucket counts as spend (default: its whole bill; for a team's view, the team's share).
 */
export function poolHistory(
  agents: readonly AgentInterval[],
  resolution: HistoryResolution,
  nowMs: number,
  locationOf: (agent: AgentInterval) => string,
  billed: (agent: AgentInterval, window: TimeWindow) => Micros = (agent, window) =>
    billedInWindow(agent, agent.pricePerHourMicros, window, nowMs),
): { window: TimeWindow; bucketMs: number; buckets: PoolBucket[] } {
  const { bucketMs, buckets: count } = HISTORY_RESOLUTIONS[resolution];
  const toMs = (Math.floor(nowMs / bucketMs) + 1) * bucketMs;
  const fromMs = toMs - count * bucketMs;
  const buckets: PoolBucket[] = Array.from({ length: count }, (_, i) => ({
    fromMs: fromMs + i * bucketMs,
    locations: new Map(),
    cloudMicros: new Map(),
  }));
  for (const agent of agents) {
    // An agent still in the pool is in the bucket that holds now, even when now is that bucket's first instant.
    const endMs = billingEndMs(agent) ?? nowMs + 1;
    const first = Math.max(0, Math.floor((agent.startMs - fromMs) / bucketMs));
    const last = Math.min(count - 1, Math.ceil((endMs - fromMs) / bucketMs) - 1);
    const location = locationOf(agent);
    for (let i = first; i <= last; i += 1) {
      const bucket = buckets[i];
      if (bucket === undefined) continue;
      const window = { fromMs: bucket.fromMs, toMs: bucket.fromMs + bucketMs };
      if (agent.startMs >= window.toMs || endMs <= window.fromMs) continue;
      const here = bucket.locations.get(location) ?? { agents: 0, cpuMillis: 0 };
      here.agents += 1;
      here.cpuMillis += agent.capacity.cpuMillis;
      bucket.locations.set(location, here);
      if (agent.lifecycle !== 'private') {
        const provider = agent.providerId ?? agent.provider;
        const micros = billed(agent, window);
        bucket.cloudMicros.set(provider, (bucket.cloudMicros.get(provider) ?? 0) + micros);
      }
    }
  }
  return { window: { fromMs, toMs }, bucketMs, buckets };
}
