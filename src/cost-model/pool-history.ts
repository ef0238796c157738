import type { Micros } from '../core/money.ts';
import { billedThrough, billingEndMs, type AgentInterval, type TimeWindow } from './ledger.ts';

/** The resolutions history is kept at, each with its bucket and how far back it reaches. */
export const HISTORY_RESOLUTIONS = {
  minute: { bucketMs: 60_000, buckets: 24 * 60 },
  hour: { bucketMs: 3_600_000, buckets: 30 * 24 },
  day: { bucketMs: 86_400_000, buckets: 90 },
} as const;
export type HistoryResolution = keyof typeof HISTORY_RESOLUTIONS;

/**
 * The buckets of a resolution as of `nowMs`: aligned to UTC multiples of the bucket's length, the last one holding
 * `nowMs`; the resolution's whole reach, or only the `last` buckets of it.
 */
export function historyWindow(
  resolution: HistoryResolution,
  nowMs: number,
  last?: number,
): { window: TimeWindow; bucketMs: number; count: number } {
  const { bucketMs, buckets } = HISTORY_RESOLUTIONS[resolution];
  const count = Math.max(1, Math.min(buckets, last ?? buckets));
  const toMs = (Math.floor(nowMs / bucketMs) + 1) * bucketMs;
  return { window: { fromMs: toMs - count * bucketMs, toMs }, bucketMs, count };
}

/** The first and last bucket an interval is present in, or undefined when it misses the window. */
function bucketSpan(
  agent: AgentInterval,
  fromMs: number,
  bucketMs: number,
  count: number,
  nowMs: number,
): { first: number; last: number } | undefined {
  // An agent still in the pool is in the bucket that holds now, even when now is that bucket's first instant.
  const endMs = billingEndMs(agent) ?? nowMs + 1;
  const first = Math.max(0, Math.floor((agent.startMs - fromMs) / bucketMs));
  const last = Math.min(count - 1, Math.ceil((endMs - fromMs) / bucketMs) - 1);
  return first <= last ? { first, last } : undefined;
}

/**
 * The pool's size by location over time (pure): per bucket, the agents present at any time within it and their CPUs,
 * read from the ledger's agent intervals (the record of which machine was in the pool when, so no second record is
 * kept). Linear in intervals plus buckets times locations, so a large pool that stays all day costs no more than a
 * small one. `locationOf` names an interval's location as the status does.
 */
export function poolSizes(
  agents: readonly AgentInterval[],
  resolution: HistoryResolution,
  nowMs: number,
  locationOf: (agent: AgentInterval) => string,
  last?: number,
): {
  window: TimeWindow;
  bucketMs: number;
  buckets: { fromMs: number; locations: Map<string, { agents: number; cpuMillis: number }> }[];
} {
  const { window, bucketMs, count } = historyWindow(resolution, nowMs, last);
  // Per location, +1 where an agent's span starts and -1 after it ends; a running sum gives each bucket's count.
  const deltas = new Map<string, { agents: Float64Array; cpuMillis: Float64Array }>();
  for (const agent of agents) {
    const span = bucketSpan(agent, window.fromMs, bucketMs, count, nowMs);
    if (span === undefined) continue;
    const key = locationOf(agent);
    let delta = deltas.get(key);
    if (delta === undefined) {
      delta = { agents: new Float64Array(count + 1), cpuMillis: new Float64Array(count + 1) };
      deltas.set(key, delta);
    }
    delta.agents[span.first] = (delta.agents[span.first] ?? 0) + 1;
    delta.agents[span.last + 1] = (delta.agents[span.last + 1] ?? 0) - 1;
    delta.cpuMillis[span.first] = (delta.cpuMillis[span.first] ?? 0) + agent.capacity.cpuMillis;
    delta.cpuMillis[span.last + 1] = (delta.cpuMillis[span.last + 1] ?? 0) - agent.capacity.cpuMillis;
  }
  const buckets = Array.from({ length: count }, (_, i) => ({
    fromMs: window.fromMs + i * bucketMs,
    locations: new Map<string, { agents: number; cpuMillis: number }>(),
  }));
  for (const [key, delta] of deltas) {
    let agentsNow = 0;
    let cpuNow = 0;
    for (let i = 0; i < count; i += 1) {
      agentsNow += delta.agents[i] ?? 0;
      cpuNow += delta.cpuMillis[i] ?? 0;
      if (agentsNow > 0) buckets[i]?.locations.set(key, { agents: agentsNow, cpuMillis: cpuNow });
    }
  }
  return { window, bucketMs, buckets };
}

/**
 * The cloud spend by provider over time (pure): per bucket, what each provider's machines billed for time within it,
 * by the ledger's billing function (`billedThrough`, so the buckets of an interval sum to its bill). `billed`, when
 * given, replaces that for a team's view: the team's share of an agent's time within a bucket. Linear in the buckets
 * each cloud interval spans within the `last` buckets.
 */
export function cloudSpend(
  agents: readonly AgentInterval[],
  resolution: HistoryResolution,
  nowMs: number,
  billed?: (agent: AgentInterval, window: TimeWindow) => Micros,
  last?: number,
): { window: TimeWindow; bucketMs: number; buckets: { fromMs: number; micros: Map<string, Micros> }[] } {
  const { window, bucketMs, count } = historyWindow(resolution, nowMs, last);
  const buckets = Array.from({ length: count }, (_, i) => ({
    fromMs: window.fromMs + i * bucketMs,
    micros: new Map<string, Micros>(),
  }));
  for (const agent of agents) {
    if (agent.lifecycle === 'private') continue;
    const span = bucketSpan(agent, window.fromMs, bucketMs, count, nowMs);
    if (span === undefined) continue;
    const provider = agent.providerId ?? agent.provider;
    // The bill through an instant, as known now: an open interval bills nothing past now.
    const through = (tMs: number): Micros =>
      billedThrough(agent, agent.pricePerHourMicros, agent.endMs === null ? Math.min(tMs, nowMs) : tMs);
    let before = billed === undefined ? through(window.fromMs + span.first * bucketMs) : 0;
    for (let i = span.first; i <= span.last; i += 1) {
      const bucket = buckets[i];
      if (bucket === undefined) continue;
      const toMs = bucket.fromMs + bucketMs;
      let micros: Micros;
      if (billed === undefined) {
        const after = through(toMs);
        micros = after - before;
        before = after;
      } else {
        micros = billed(agent, { fromMs: bucket.fromMs, toMs });
      }
      if (micros !== 0) bucket.micros.set(provider, (bucket.micros.get(provider) ?? 0) + micros);
    }
  }
  return { window, bucketMs, buckets };
}
