import type { Owner } from '../../src/core/owner.ts';
import type { BudgetScope } from '../../src/cost-model/budget.ts';

/**
 * A test oracle for cloud spend, written from DESIGN section 4 and the clouds' billing rules, sharing no code with the
 * product's billing or attribution:
 *
 * - An instance is billed per started second of its life, at least 60 s; a bill is integer micro-USD, the exact
 *   `price x seconds / 3600` rounded to the nearest micro-USD, halves up.
 * - Each second's cost is split among the tasks running then by their dominant share, scaled down when the shares
 *   pass one; the idle rest, and the minimum bill's surplus (at the end of the life), go to the owners whose demand
 *   launched the instance, by their shares.
 * - An owner is charged whole micro-USD per instance, category (task or idle) and window; a charge is never more than
 *   its exact amount rounded up, never less than it rounded down, and the charges of an instance sum to its bill. So
 *   a scope's spend is at most the sum of its exact charges, each rounded up, and at most the bill less the others'
 *   charges rounded down: the figure a hard cap must hold.
 */

/** One instance's life, as the cloud billed it. */
export interface BilledInstance {
  readonly id: string;
  /** `aws-ec2`, `gcp-compute`, `local`: all bill per second with a 60 s minimum. */
  readonly provider: string;
  readonly spot: boolean;
  readonly pricePerHourMicros: number;
  readonly startMs: number;
  /** When billing stopped. */
  readonly endMs: number;
  /** Who caused the launch, by share (any positive weights). */
  readonly owners: readonly { readonly owner: Owner; readonly share: number }[];
}

/** A task's run on an instance, with its dominant share of the instance. */
export interface TaskRun {
  readonly instanceId: string;
  readonly owner: Owner;
  readonly share: number;
  readonly startMs: number;
  readonly endMs: number;
}

const MINIMUM_SECONDS = 60;

/** The bill of `seconds` of an instance at `pricePerHourMicros`: nearest micro-USD, halves up (exact in BigInt). */
export function billOfSeconds(pricePerHourMicros: number, seconds: number): number {
  if (seconds <= 0) return 0;
  return Number((BigInt(pricePerHourMicros) * BigInt(seconds) * 2n + 3600n) / 7200n);
}

/** What the life of an instance from its start to `atMs` costs, before the minimum: per started second. */
function runningBill(instance: BilledInstance, atMs: number): number {
  return billOfSeconds(instance.pricePerHourMicros, Math.ceil(Math.max(0, atMs - instance.startMs) / 1000));
}

export function inScope(scope: BudgetScope, owner: Owner): boolean {
  if (scope.kind === 'global') return true;
  if (scope.kind === 'team') return owner.team === scope.team;
  return owner.project === scope.project && (scope.team === undefined || scope.team === owner.team);
}

/**
 * The exact charges (fractional micro-USD) of one instance inside [fromMs, toMs), per owner and category.
 */
export function exactCharges(
  instance: BilledInstance,
  runs: readonly TaskRun[],
  fromMs: number,
  toMs: number,
): Map<string, { owner: Owner; micros: number }> {
  const charges = new Map<string, { owner: Owner; micros: number }>();
  const charge = (owner: Owner, category: string, micros: number): void => {
    if (micros <= 0) return;
    const key = JSON.stringify([category, owner.team, owner.project, owner.job]);
    const c = charges.get(key) ?? { owner, micros: 0 };
    c.micros += micros;
    charges.set(key, c);
  };
  const lo = Math.max(fromMs, instance.startMs);
  const hi = Math.min(toMs, instance.endMs);
  const ownerTotal = instance.owners.reduce((s, o) => s + Math.max(0, o.share), 0);
  const idle = (micros: number): void => {
    for (const o of instance.owners) if (o.share > 0) charge(o.owner, 'idle', (micros * o.share) / ownerTotal);
  };
  const mine = runs.filter((r) => r.instanceId === instance.id);
  if (hi > lo) {
    const cuts = new Set([lo, hi]);
    for (const r of mine) for (const t of [r.startMs, r.endMs]) if (t > lo && t < hi) cuts.add(t);
    const instants = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i + 1 < instants.length; i++) {
      const [t0, t1] = [instants[i]!, instants[i + 1]!];
      const cost = runningBill(instance, t1) - runningBill(instance, t0);
      if (cost === 0) continue;
      const running = mine.filter((r) => r.startMs <= t0 && r.endMs >= t1);
      const demand = running.reduce((s, r) => s + r.share, 0);
      const scale = demand > 1 ? 1 / demand : 1;
      for (const r of running) charge(r.owner, instance.spot ? 'spot' : 'on-demand', cost * r.share * scale);
      idle(cost * (1 - Math.min(1, demand)));
    }
  }
  // The minimum bill's surplus falls where the life ends.
  if (instance.endMs >= fromMs && instance.endMs < toMs) {
    const full = billOfSeconds(instance.pricePerHourMicros, MINIMUM_SECONDS);
    idle(Math.max(0, full - runningBill(instance, instance.endMs)));
  }
  return charges;
}

/**
 * The most a scope can have been charged for these instances in [fromMs, toMs): its exact charges per instance and
 * category, each rounded up.
 */
export function scopeSpendBound(
  scope: BudgetScope,
  instances: readonly BilledInstance[],
  runs: readonly TaskRun[],
  fromMs: number,
  toMs: number,
): { boundMicros: number; exactMicros: number } {
  let boundMicros = 0;
  let exactMicros = 0;
  for (const instance of instances) {
    let ceilIn = 0;
    let floorOut = 0;
    let total = 0;
    for (const { owner, micros } of exactCharges(instance, runs, fromMs, toMs).values()) {
      total += micros;
      // A float sum may land a hair off a whole number the exact sum equals.
      if (!inScope(scope, owner)) {
        floorOut += Math.floor(micros + 1e-6);
        continue;
      }
      exactMicros += micros;
      ceilIn += Math.ceil(micros - 1e-6);
    }
    // The parts are whole and sum to the instance's bill in the window, so the others' parts, each at least its
    // amount rounded down, bound the scope's too.
    boundMicros += Math.min(ceilIn, Math.round(total) - floorOut);
  }
  return { boundMicros, exactMicros };
}
