import type { Lifecycle } from '../core/agent.ts';
import type { Micros } from '../core/money.ts';
import type { Owner } from '../core/owner.ts';
import { apportion } from './apportion.ts';
import { billingRuleFor, runningMicros } from './billing.ts';
import {
  billedInWindow,
  effectivePricePerHour,
  overlapOf,
  UNATTRIBUTED_OWNER,
  usageByAgent,
  type AgentInterval,
  type LedgerSlice,
  type PrivateRate,
  type TimeWindow,
  type UsageInterval,
} from './ledger.ts';

/** What a charge pays for. Cloud cost is on-demand or spot when a task used it, idle when none did. */
export const CostCategory = { private: 'private', onDemand: 'onDemand', spot: 'spot', idle: 'idle' } as const;
export type CostCategory = (typeof CostCategory)[keyof typeof CostCategory];

/** The categories of cloud spend: what budgets count. */
export const CLOUD_CATEGORIES: ReadonlySet<CostCategory> = new Set(['onDemand', 'spot', 'idle']);

/** Integer micro-USD one owner pays in one category. */
export interface Charge {
  readonly owner: Owner;
  readonly category: CostCategory;
  readonly micros: Micros;
}

/**
 * DESIGN section 4's attribution rule for one agent interval over a window, as of `nowMs`.
 *
 * - Each second of the agent's running cost is split among the tasks running on it by their dominant resource
 *   share, scaled down so the shares never sum past one.
 * - The rest of that second (idle) goes to the owners whose demand launched the agent, by the launch intent's
 *   shares; with no owners recorded, to UNATTRIBUTED_OWNER.
 * - The minimum bill's surplus over the running time (a cloud agent that lived under 60 s) is idle too: nobody's task
 *   used it, the launch caused it. It falls at the interval's end (see `billedThrough`).
 * - A private agent is charged at `pricePerHourMicros` (its amortized rate) the same way, in category `private`; its
 *   unused part goes to UNATTRIBUTED_OWNER, since no launch caused it.
 *
 * The parts are integers with a largest-remainder split, so they sum exactly to `billedInWindow` for the interval.
 * Pure; `usage` may hold other agents' intervals (they are ignored).
 */
export function attributeAgent(
  agent: AgentInterval,
  usage: readonly UsageInterval[],
  window: TimeWindow,
  nowMs: number,
  pricePerHourMicros: Micros,
): Charge[] {
  const overlap = overlapOf(agent, window, nowMs);
  if (overlap === undefined) return [];
  const total = billedInWindow(agent, pricePerHourMicros, window, nowMs);
  if (total === 0) return [];
  const { loMs, hiMs } = overlap;
  const rule = billingRuleFor(agent.provider);
  const running = (tMs: number): Micros => runningMicros(rule, pricePerHourMicros, tMs - agent.startMs);
  const taskCategory = categoryOf(agent.lifecycle);
  const idle = idleOwners(agent);
  const exact = new ExactCharges();

  // A sweep over the instants where the set of running tasks changes.
  const runs = usage
    .filter((u) => u.agentId === agent.agentId)
    .map((u) => ({ u, fromMs: Math.max(u.startMs, loMs), toMs: Math.min(u.endMs ?? hiMs, hiMs) }))
    .filter((r) => r.toMs > r.fromMs);
  const instants = [...new Set([loMs, hiMs, ...runs.flatMap((r) => [r.fromMs, r.toMs])])].sort((a, b) => a - b);
  const byStart = groupBy(runs, (r) => r.fromMs);
  const byEnd = groupBy(runs, (r) => r.toMs);
  const active = new Set<(typeof runs)[number]>();
  let accounted = 0;
  for (let i = 0; i + 1 < instants.length; i++) {
    const t0 = instants[i]!;
    const t1 = instants[i + 1]!;
    for (const r of byEnd.get(t0) ?? []) active.delete(r);
    for (const r of byStart.get(t0) ?? []) active.add(r);
    const cost = running(t1) - running(t0);
    if (cost === 0) continue;
    accounted += cost;
    let demand = 0;
    for (const r of active) demand += Math.max(0, r.u.share);
    const scale = demand > 1 ? 1 / demand : 1;
    for (const r of active) exact.add(r.u.owner, taskCategory, cost * Math.max(0, r.u.share) * scale);
    const idleFraction = Math.max(0, 1 - demand * scale);
    if (idleFraction > 0) for (const o of idle) exact.add(o.owner, o.category, cost * idleFraction * o.share);
  }
  const surplus = total - accounted;
  for (const o of idle) exact.add(o.owner, o.category, surplus * o.share);
  return exact.round(total);
}

/** Attribution of every interval of a ledger slice over a window; each agent's charges sum to its billed total. */
export function attributeLedger(
  ledger: LedgerSlice,
  window: TimeWindow,
  nowMs: number,
  privateRate: PrivateRate,
): Charge[] {
  const usage = usageByAgent(ledger.usage);
  return ledger.agents.flatMap((agent) =>
    attributeAgent(agent, usage.get(agent.agentId) ?? [], window, nowMs, effectivePricePerHour(agent, privateRate)),
  );
}

export function categoryOf(lifecycle: Lifecycle): CostCategory {
  if (lifecycle === 'private') return CostCategory.private;
  return lifecycle === 'spot' ? CostCategory.spot : CostCategory.onDemand;
}

interface IdleOwner {
  readonly owner: Owner;
  readonly category: CostCategory;
  /** Fractions summing to 1. */
  readonly share: number;
}

/** Who pays an agent's idle time: the launch's owners by their shares (normalized), else UNATTRIBUTED_OWNER. */
export function idleOwners(agent: Pick<AgentInterval, 'lifecycle' | 'owners'>): IdleOwner[] {
  if (agent.lifecycle === 'private') {
    return [{ owner: UNATTRIBUTED_OWNER, category: CostCategory.private, share: 1 }];
  }
  const owners = agent.owners.filter((o) => Number.isFinite(o.share) && o.share > 0);
  const sum = owners.reduce((s, o) => s + o.share, 0);
  if (sum <= 0) return [{ owner: UNATTRIBUTED_OWNER, category: CostCategory.idle, share: 1 }];
  return owners.map((o) => ({ owner: o.owner, category: CostCategory.idle, share: o.share / sum }));
}

/** Fractional micro-USD per (owner, category), rounded at the end so rounding happens once per interval. */
class ExactCharges {
  readonly #amounts = new Map<string, number>();
  readonly #keys = new Map<string, { owner: Owner; category: CostCategory }>();

  add(owner: Owner, category: CostCategory, micros: number): void {
    const key = JSON.stringify([category, owner.team, owner.project, owner.job]);
    if (!this.#keys.has(key)) this.#keys.set(key, { owner, category });
    this.#amounts.set(key, (this.#amounts.get(key) ?? 0) + micros);
  }

  round(total: Micros): Charge[] {
    const charges: Charge[] = [];
    for (const [key, micros] of apportion(this.#amounts, total)) {
      const { owner, category } = this.#keys.get(key)!;
      charges.push({ owner: { team: owner.team, project: owner.project, job: owner.job }, category, micros });
    }
    return charges;
  }
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(item);
  }
  return groups;
}
