import type { Resources } from '../core/resources.ts';
import type { AgentInterval, UsageInterval } from '../cost-model/ledger.ts';

/**
 * Why a run's tail is what it is: its waits by the reason stored on each late task, and its cloud cost split into
 * what the bound does not pay for. Pure: everything comes from what the simulation recorded (its ledger, its tasks'
 * resources, its agents' registration times, the reason each task carried when it started).
 */

/** The reasons a task that waited past grace carried, as classes of the reason text the controller stored. */
export const WaitCause = {
  limit: 'limit',
  noFit: 'no-fit',
  budget: 'budget',
  launch: 'launch',
  covered: 'covered',
  privateOnly: 'private-only',
  paused: 'paused',
  other: 'other',
} as const;
export type WaitCause = (typeof WaitCause)[keyof typeof WaitCause];

/**
 * The class of a stored wait reason. `launch`: a launch was made for the task (its cloud call or its boot);
 * `covered`: no reason was stored, so capacity already on its way (launched for other tasks) or private room that
 * freed up took it after grace.
 */
export function waitCause(reason: string): WaitCause {
  if (reason === '') return WaitCause.covered;
  if (/^burst limit reached/.test(reason)) return WaitCause.limit;
  if (/^no allowed offering fits/.test(reason)) return WaitCause.noFit;
  if (/budget/i.test(reason)) return WaitCause.budget;
  if (/^waits for .* being launched$/.test(reason)) return WaitCause.launch;
  if (/private-only/.test(reason)) return WaitCause.privateOnly;
  if (/^bursting is paused/.test(reason)) return WaitCause.paused;
  return WaitCause.other;
}

export interface WaitBreakdown {
  readonly p50S: number;
  readonly p95S: number;
  readonly p99S: number;
  readonly maxS: number;
  readonly meanS: number;
  /** Tasks that waited longer than the grace period. */
  readonly pastGrace: number;
  /** Those tasks by the class of the reason they carried when they started. */
  readonly pastGraceByCause: Readonly<Record<WaitCause, number>>;
}

/** Nearest-rank percentile `q` of ascending `sorted` (0 when empty). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Waits of started tasks (`waitsMs[i]`, with `reasons[i]` the reason task i carried when it started, '' for none):
 * nearest-rank percentiles, and the tasks past `graceMs` counted by cause.
 */
export function waitBreakdown(waitsMs: ArrayLike<number>, reasons: readonly string[], graceMs: number): WaitBreakdown {
  const byCause = Object.fromEntries(Object.values(WaitCause).map((c) => [c, 0])) as Record<WaitCause, number>;
  let past = 0;
  let sum = 0;
  for (let i = 0; i < waitsMs.length; i++) {
    const w = waitsMs[i]!;
    sum += w;
    if (w > graceMs) {
      past++;
      byCause[waitCause(reasons[i] ?? '')]++;
    }
  }
  const sorted = Float64Array.from(waitsMs).sort();
  return {
    p50S: percentile(sorted, 0.5) / 1000,
    p95S: percentile(sorted, 0.95) / 1000,
    p99S: percentile(sorted, 0.99) / 1000,
    maxS: sorted.length ? sorted[sorted.length - 1]! / 1000 : 0,
    meanS: sorted.length ? sum / sorted.length / 1000 : 0,
    pastGrace: past,
    pastGraceByCause: byCause,
  };
}

/**
 * A run's cloud bill, split by what each paid second was for. The parts sum to `billedUsd`:
 * `bootUsd + idleBetweenTasksUsd + idleBeforeReleaseUsd + minimumsUsd + packingLossUsd + workUsd`.
 */
export interface CloudCostParts {
  readonly billedUsd: number;
  /** From launch to registration (all of an instance's life if it never registered). */
  readonly bootUsd: number;
  /** Registered, with no task, and a task came later. */
  readonly idleBetweenTasksUsd: number;
  /** Registered, with no task, from its last task's end (or its registration) to its release. */
  readonly idleBeforeReleaseUsd: number;
  /** What the bill charged beyond the running time: billing minimums and whole increments. */
  readonly minimumsUsd: number;
  /** Running tasks, but for capacity no task used: the price times one minus the used share of the busiest resource. */
  readonly packingLossUsd: number;
  /** The price of the capacity tasks used (the busiest resource's share), at the offerings the run paid for. */
  readonly workUsd: number;
}

export interface CloudCostInput {
  /** Cloud agents' intervals (private ones are skipped), all closed by `endMs` or clipped to it. */
  readonly agents: readonly AgentInterval[];
  readonly usage: readonly UsageInterval[];
  /** The bill of each agent interval, USD, as the report's ledger read computed it. */
  readonly billedUsd: (agent: AgentInterval) => number;
  /** When each cloud agent registered (absent: it never did). */
  readonly registeredAtMs: ReadonlyMap<string, number>;
  readonly resourcesOf: (taskId: string) => Resources | undefined;
  readonly endMs: number;
}

const MS_PER_HOUR = 3_600_000;

/** Splits the cloud bill of a run (see CloudCostParts). */
export function cloudCostParts(input: CloudCostInput): CloudCostParts {
  const usageByAgent = new Map<string, UsageInterval[]>();
  for (const u of input.usage) {
    let list = usageByAgent.get(u.agentId);
    if (!list) usageByAgent.set(u.agentId, (list = []));
    list.push(u);
  }
  const parts = {
    billedUsd: 0,
    bootUsd: 0,
    idleBetweenTasksUsd: 0,
    idleBeforeReleaseUsd: 0,
    minimumsUsd: 0,
    packingLossUsd: 0,
    workUsd: 0,
  };
  for (const agent of input.agents) {
    if (agent.lifecycle === 'private') continue;
    const usdPerMs = agent.pricePerHourMicros / 1_000_000 / MS_PER_HOUR;
    const startMs = agent.startMs;
    const endMs = Math.min(agent.endMs ?? input.endMs, input.endMs);
    const billed = input.billedUsd(agent);
    parts.billedUsd += billed;
    parts.minimumsUsd += billed - usdPerMs * Math.max(0, endMs - startMs);
    const regMs = Math.min(endMs, Math.max(startMs, input.registeredAtMs.get(agent.agentId) ?? endMs));
    parts.bootUsd += usdPerMs * (regMs - startMs);
    const { busyMs, usedMs, lastEndMs } = occupancy(usageByAgent.get(agent.agentId) ?? [], agent.capacity, input, {
      fromMs: regMs,
      toMs: endMs,
    });
    const tailMs = endMs - Math.max(regMs, lastEndMs);
    parts.idleBeforeReleaseUsd += usdPerMs * tailMs;
    parts.idleBetweenTasksUsd += usdPerMs * (endMs - regMs - busyMs - tailMs);
    parts.packingLossUsd += usdPerMs * (busyMs - usedMs);
    parts.workUsd += usdPerMs * usedMs;
  }
  return parts;
}

/**
 * Over [fromMs, toMs): how long the agent ran at least one task (`busyMs`), the integral of the busiest resource's
 * used share over that time (`usedMs`, at most `busyMs`), and when its last task ended (`lastEndMs`, -Infinity if none).
 */
function occupancy(
  usage: readonly UsageInterval[],
  capacity: Resources,
  input: CloudCostInput,
  window: { fromMs: number; toMs: number },
): { busyMs: number; usedMs: number; lastEndMs: number } {
  const events: { atMs: number; sign: 1 | -1; r: Resources }[] = [];
  let lastEndMs = -Infinity;
  for (const u of usage) {
    const lo = Math.max(u.startMs, window.fromMs);
    const hi = Math.min(u.endMs ?? window.toMs, window.toMs);
    if (!(hi > lo)) continue;
    const r = input.resourcesOf(u.taskId);
    if (!r) continue;
    events.push({ atMs: lo, sign: 1, r }, { atMs: hi, sign: -1, r });
    lastEndMs = Math.max(lastEndMs, hi);
  }
  events.sort((a, b) => a.atMs - b.atMs || a.sign - b.sign);
  const load = { cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 };
  let running = 0;
  let busyMs = 0;
  let usedMs = 0;
  let prev = window.fromMs;
  for (const e of events) {
    const dt = e.atMs - prev;
    if (dt > 0 && running > 0) {
      busyMs += dt;
      usedMs += dt * usedShare(load, capacity);
    }
    prev = e.atMs;
    running += e.sign;
    load.cpuMillis += e.sign * e.r.cpuMillis;
    load.memoryMiB += e.sign * e.r.memoryMiB;
    load.gpus += e.sign * e.r.gpus;
    load.netMbps += e.sign * e.r.netMbps;
  }
  return { busyMs, usedMs, lastEndMs };
}

/** The share of the busiest resource `load` takes of `capacity`, at most 1 (resources the agent lacks are skipped). */
function usedShare(load: Resources, capacity: Resources): number {
  let share = 0;
  if (capacity.cpuMillis > 0) share = Math.max(share, load.cpuMillis / capacity.cpuMillis);
  if (capacity.memoryMiB > 0) share = Math.max(share, load.memoryMiB / capacity.memoryMiB);
  if (capacity.gpus > 0) share = Math.max(share, load.gpus / capacity.gpus);
  if (capacity.netMbps > 0) share = Math.max(share, load.netMbps / capacity.netMbps);
  return Math.min(1, share);
}

/** The cloud cost over the fluid bound, by cause. The causes sum to `overUsd`. */
export interface OverBound {
  readonly cloudUsd: number;
  readonly boundUsd: number;
  readonly overUsd: number;
  /** cloudUsd / boundUsd (0 when the bound is 0). */
  readonly ratio: number;
  readonly bootUsd: number;
  readonly idleBeforeReleaseUsd: number;
  readonly idleBetweenTasksUsd: number;
  readonly minimumsUsd: number;
  readonly packingLossUsd: number;
  /** What the used capacity cost at the offerings the run paid for, over what the bound's offerings charge for it. */
  readonly priceGapUsd: number;
}

/** The cost over the bound: the parts the bound never pays, and the work's price gap to the bound. */
export function overBound(parts: CloudCostParts, boundUsd: number): OverBound {
  return {
    cloudUsd: parts.billedUsd,
    boundUsd,
    overUsd: parts.billedUsd - boundUsd,
    ratio: boundUsd > 0 ? parts.billedUsd / boundUsd : 0,
    bootUsd: parts.bootUsd,
    idleBeforeReleaseUsd: parts.idleBeforeReleaseUsd,
    idleBetweenTasksUsd: parts.idleBetweenTasksUsd,
    minimumsUsd: parts.minimumsUsd,
    packingLossUsd: parts.packingLossUsd,
    priceGapUsd: parts.workUsd - boundUsd,
  };
}
