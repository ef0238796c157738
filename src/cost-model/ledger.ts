import type { Lifecycle } from '../core/agent.ts';
import type { Location } from '../core/location.ts';
import type { Micros } from '../core/money.ts';
import type { Owner, OwnerShare } from '../core/owner.ts';
import type { Resources } from '../core/resources.ts';
import { billedMicros, billingRuleFor, runningMicros } from './billing.ts';
import { DEFAULT_PRIVATE_RATES, privatePricePerHourMicros, type PrivateRates } from './private-rates.ts';

/**
 * The ledger (DESIGN section 1): intervals of each agent's life with its price, and of each task's run on an agent.
 * Budgets and chargeback read the same intervals through the same functions, so they can never disagree.
 *
 * The store records these inside the transactions that change the state they describe (see src/store/sqlite/
 * ledger-repo.ts), so the ledger can never disagree with the pool either.
 */

/** One agent's life: a cloud agent from its launch's confirmation until its termination is confirmed; a private agent
 *  from its registration until it is terminated or lost. */
export interface AgentInterval {
  readonly agentId: string;
  readonly name: string;
  readonly location: Location;
  /** The provider kind (`aws-ec2`, `gcp-compute`, `local`), or `private`: selects the billing rule. */
  readonly provider: string;
  /** The provider's id (`aws-ec2:us-east-1`); null for private agents. */
  readonly providerId: string | null;
  readonly instanceId: string | null;
  /** The launched offering's instance type; empty when unknown (private agents). */
  readonly instanceType: string;
  readonly lifecycle: Lifecycle;
  /** The cloud price; 0 for private agents, whose amortized rate comes from a PrivateRate at read time. */
  readonly pricePerHourMicros: Micros;
  /** The agent's capacity (as it registered, for cloud agents that did). */
  readonly capacity: Resources;
  readonly intentId: string | null;
  /** The launch intent's owners and shares: who pays for the idle part. Empty for private agents. */
  readonly owners: readonly OwnerShare[];
  readonly startMs: number;
  /** Null while the agent lives (for a cloud agent: until its termination is confirmed). */
  readonly endMs: number | null;
}

/** One run of a task on an agent: from when it started running (claimed) until it finished, was requeued or cancelled. */
export interface UsageInterval {
  readonly id: number;
  readonly taskId: string;
  readonly agentId: string;
  readonly owner: Owner;
  /** The task's dominant share of the agent's capacity (the largest of its four resource fractions). */
  readonly share: number;
  readonly startMs: number;
  readonly endMs: number | null;
  /** What the run used, measured by its cgroup at its exit; null when not measured. */
  readonly cpuSeconds?: number | null;
  readonly peakMemoryBytes?: number | null;
}

/** What a run used, measured by its cgroup. */
export interface MeasuredUse {
  readonly cpuSeconds: number;
  readonly peakMemoryBytes: number;
}

/** The intervals overlapping some period: what budgets and reports read. */
export interface LedgerSlice {
  readonly agents: readonly AgentInterval[];
  readonly usage: readonly UsageInterval[];
}

/** A half-open period [fromMs, toMs) of epoch milliseconds. */
export interface TimeWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** The amortized rate of a private agent in micro-USD per hour (from config's private rates). */
export type PrivateRate = (agent: AgentInterval) => Micros;

/** No private rate: private capacity is free in reports. */
export const FREE_PRIVATE_CAPACITY: PrivateRate = () => 0;

/** A private agent's amortized rate from the per-resource-hour rates of config's `privateRates`. */
export function amortizedPrivateRate(rates: PrivateRates = DEFAULT_PRIVATE_RATES): PrivateRate {
  return (agent) => privatePricePerHourMicros(agent.capacity, rates);
}

/** Who pays for cost nobody caused: private agents' unused capacity, and idle cloud agents whose intent has no owners. */
export const UNATTRIBUTED_OWNER: Owner = Object.freeze({
  team: '(unattributed)',
  project: '(unattributed)',
  job: '(unattributed)',
});

/** The price attribution and reports use for an interval: the cloud's price, or a private agent's amortized rate. */
export function effectivePricePerHour(agent: AgentInterval, privateRate: PrivateRate): Micros {
  return agent.lifecycle === 'private' ? Math.max(0, Math.round(privateRate(agent))) : agent.pricePerHourMicros;
}

/** The end billing uses: null while open; an interval closed the instant it opened lasts 1 ms (and pays its minimum). */
export function billingEndMs(agent: Pick<AgentInterval, 'startMs' | 'endMs'>): number | null {
  return agent.endMs === null ? null : Math.max(agent.endMs, agent.startMs + 1);
}

/**
 * The cumulative bill of an interval through instant `tMs` (the ledger's billing function, DESIGN section 4):
 * nothing before it starts; its running time billed per increment while it runs; its whole bill (the minimum
 * included) from its end on. So the minimum bill's surplus over the running time falls at the end of the interval,
 * and only once it is known: an open interval's surplus is a commitment (budgets reserve it), not yet spend.
 * Never decreases as `tMs` grows.
 */
export function billedThrough(agent: AgentInterval, pricePerHourMicros: Micros, tMs: number): Micros {
  if (tMs <= agent.startMs) return 0;
  const rule = billingRuleFor(agent.provider);
  const endMs = billingEndMs(agent);
  if (endMs !== null && tMs >= endMs) return billedMicros(rule, pricePerHourMicros, agent.startMs, endMs);
  return runningMicros(rule, pricePerHourMicros, tMs - agent.startMs);
}

/**
 * Where an interval meets a window, as of `nowMs`: [lo, hi), or undefined when they do not meet. An open interval is
 * known only up to `nowMs`.
 */
export function overlapOf(
  agent: Pick<AgentInterval, 'startMs' | 'endMs'>,
  window: TimeWindow,
  nowMs: number,
): { readonly loMs: number; readonly hiMs: number } | undefined {
  const endMs = billingEndMs(agent);
  const loMs = Math.max(window.fromMs, agent.startMs);
  const hiMs = Math.min(window.toMs, endMs ?? nowMs);
  return hiMs > loMs ? { loMs, hiMs } : undefined;
}

/** What an interval billed within a window, as of `nowMs`, in integer micro-USD: the ledger's total for it. */
export function billedInWindow(
  agent: AgentInterval,
  pricePerHourMicros: Micros,
  window: TimeWindow,
  nowMs: number,
): Micros {
  const overlap = overlapOf(agent, window, nowMs);
  if (overlap === undefined) return 0;
  return (
    billedThrough(agent, pricePerHourMicros, overlap.hiMs) - billedThrough(agent, pricePerHourMicros, overlap.loMs)
  );
}

/** The ledger's billed total over a window, private capacity at its amortized rate: every report must sum to this. */
export function ledgerTotalMicros(
  ledger: LedgerSlice,
  window: TimeWindow,
  nowMs: number,
  privateRate: PrivateRate = FREE_PRIVATE_CAPACITY,
): Micros {
  let total = 0;
  for (const agent of ledger.agents) {
    total += billedInWindow(agent, effectivePricePerHour(agent, privateRate), window, nowMs);
  }
  return total;
}

/** Usage intervals grouped by agent id, each group in start order. */
export function usageByAgent(usage: readonly UsageInterval[]): Map<string, UsageInterval[]> {
  const byAgent = new Map<string, UsageInterval[]>();
  for (const u of usage) {
    let list = byAgent.get(u.agentId);
    if (list === undefined) byAgent.set(u.agentId, (list = []));
    list.push(u);
  }
  for (const list of byAgent.values()) list.sort((a, b) => a.startMs - b.startMs || a.id - b.id);
  return byAgent;
}
