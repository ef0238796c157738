import type { Agent } from '../core/agent.ts';
import type { LaunchIntent } from '../core/intent.ts';
import { formatUsd } from '../core/money.ts';
import { offeringKey, type Offering } from '../core/offering.ts';
import { ownerKey, type Owner, type OwnerShare } from '../core/owner.ts';
import type { Limits, Policy } from '../core/policy.ts';
import { dominantShare, fits, formatResources, subtract, type Resources } from '../core/resources.ts';
import type { Task } from '../core/task.ts';
import { agentHost, eligible, offeringHost, type Host } from '../pool/builtin/eligibility.ts';
import type { LaunchCommand, Waiting } from './commands.ts';

/** Everything the planner decides from. It reads nothing else: no clock, no I/O. */
export interface PlanInput {
  readonly nowMs: number;
  readonly policy: Policy;
  /** Tasks still unplaced after this pass's placement, highest priority first. */
  readonly pending: readonly Task[];
  /** Live agents (provisioning, registered, draining). */
  readonly agents: readonly Agent[];
  /** Launch intents whose cloud call is not confirmed yet. */
  readonly openLaunches: readonly LaunchIntent[];
  readonly offerings: readonly Offering[];
  /** Offering keys that recently failed with a capacity error. */
  readonly unavailable: ReadonlySet<string>;
  /**
   * A further check on each new instance before it is planned (budgets): given the offering and the tasks packed into
   * it, returns why it may not launch, or undefined to allow it. Called in planning order, once per candidate until one is
   * admitted; it may keep a tally of what it admitted within this plan (budget reservations). Default: allow.
   */
  readonly admitLaunch?: (offering: Offering, tasks: readonly Task[]) => string | undefined;
}

export interface PlanResult {
  readonly launches: readonly LaunchCommand[];
  readonly waiting: readonly Waiting[];
}

interface Bin {
  readonly host: Host;
  free: Resources;
}

interface NewBin {
  readonly offering: Offering;
  readonly tasks: Task[];
}

/** How many later tasks one candidate evaluation looks at when filling a bin; bounds the work per launch. */
const FILL_SCAN_LIMIT = 4_096;

/**
 * Plans launches for tasks that waited past the grace period (pure). Demand that in-flight launches and unregistered
 * instances will cover is subtracted first; the rest is packed first-fit-decreasing into new instances, choosing for
 * each new instance the allowed offering with the lowest price per task it packs, within the policy's limits.
 * Deterministic: the same input gives the same commands.
 */
export function plan(input: PlanInput): PlanResult {
  const { policy, nowMs } = input;
  const waiting: Waiting[] = [];
  const due: Task[] = [];
  for (const task of input.pending) {
    if (nowMs - task.pendingSinceMs < policy.pendingGraceMs) continue;
    if (task.constraints.privateOnly) {
      waiting.push({ taskId: task.id, reason: 'waits for private room (private-only task)' });
    } else {
      due.push(task);
    }
  }
  if (due.length === 0) return { launches: [], waiting };
  if (policy.paused) {
    for (const t of due) waiting.push({ taskId: t.id, reason: 'bursting is paused' });
    return { launches: [], waiting };
  }

  const uncovered = coverWithInFlight(sortForPacking(due), inFlightBins(input));
  const offerings = allowedOfferings(input);
  const usage = new Usage(policy, input);
  const bins: NewBin[] = [];
  let remaining = uncovered;
  while (remaining.length > 0) {
    const [head, ...rest] = remaining;
    if (!head) break;
    const candidates = rankCandidates(head, rest, offerings);
    if (candidates.length === 0) {
      waiting.push({ taskId: head.id, reason: `no allowed offering fits ${formatResources(head.resources)}` });
      remaining = rest;
      continue;
    }
    const withinLimits = candidates.filter((c) => usage.admits(c.offering));
    if (withinLimits.length === 0) {
      waiting.push({ taskId: head.id, reason: `burst limit reached (${usage.limitHit(candidates[0]!.offering)})` });
      remaining = rest;
      continue;
    }
    let refusal: string | undefined;
    const chosen = withinLimits.find((c) => (refusal = input.admitLaunch?.(c.offering, c.tasks)) === undefined);
    if (!chosen) {
      waiting.push({ taskId: head.id, reason: refusal ?? 'no launch admitted' });
      remaining = rest;
      continue;
    }
    usage.add(chosen.offering);
    bins.push({ offering: chosen.offering, tasks: chosen.tasks });
    const packed = new Set(chosen.tasks.map((t) => t.id));
    remaining = remaining.filter((t) => !packed.has(t.id));
  }
  return { launches: groupLaunches(bins, policy), waiting };
}

function sortForPacking(tasks: readonly Task[]): Task[] {
  const size = (t: Task): number =>
    t.resources.gpus * 16 + t.resources.cpuMillis / 1000 + t.resources.memoryMiB / 4096 + t.resources.netMbps / 10_000;
  return [...tasks].sort((a, b) => b.priority - a.priority || size(b) - size(a) || a.id.localeCompare(b.id));
}

/** Capacity that is on its way: instances launched but not registered, and launches not yet confirmed. */
function inFlightBins(input: PlanInput): Bin[] {
  const bins: Bin[] = [];
  const agentsPerIntent = new Map<string, number>();
  for (const agent of input.agents) {
    if (agent.intentId) agentsPerIntent.set(agent.intentId, (agentsPerIntent.get(agent.intentId) ?? 0) + 1);
    if (agent.state === 'provisioning') bins.push({ host: agentHost(agent), free: agent.capacity });
  }
  for (const intent of input.openLaunches) {
    const count = intent.count - (agentsPerIntent.get(intent.id) ?? 0);
    for (let i = 0; i < count; i++) bins.push({ host: offeringHost(intent.offering), free: intent.offering.capacity });
  }
  return bins;
}

/** Returns the tasks that in-flight capacity does not cover (first fit). */
function coverWithInFlight(tasks: readonly Task[], bins: Bin[]): Task[] {
  if (bins.length === 0) return [...tasks];
  return tasks.filter((task) => {
    const bin = bins.find((b) => fits(task.resources, b.free) && eligible(task, b.host));
    if (!bin) return true;
    bin.free = subtract(bin.free, task.resources);
    return false;
  });
}

function allowedOfferings(input: PlanInput): Offering[] {
  const { policy } = input;
  return input.offerings
    .filter(
      (o) =>
        o.available &&
        !input.unavailable.has(offeringKey(o)) &&
        (policy.providers.length === 0 || policy.providers.some((p) => p === o.providerId || p === o.provider)) &&
        (policy.regions.length === 0 || policy.regions.includes(o.region)) &&
        (policy.instanceFamilies.length === 0 || policy.instanceFamilies.some((f) => o.instanceType.startsWith(f))) &&
        (o.lifecycle !== 'spot' || policy.spot.allowed),
    )
    .sort((a, b) => a.pricePerHourMicros - b.pricePerHourMicros || offeringKey(a).localeCompare(offeringKey(b)));
}

interface Candidate {
  readonly offering: Offering;
  readonly tasks: Task[];
  readonly pricePerTask: number;
}

/** Every offering that fits `head`, each with the tasks it would pack, cheapest per packed task first. */
function rankCandidates(head: Task, rest: readonly Task[], offerings: readonly Offering[]): Candidate[] {
  const candidates: Candidate[] = [];
  for (const offering of offerings) {
    const host = offeringHost(offering);
    if (!fits(head.resources, offering.capacity) || !eligible(head, host)) continue;
    const tasks = [head];
    let free = subtract(offering.capacity, head.resources);
    const scan = Math.min(rest.length, FILL_SCAN_LIMIT);
    for (let i = 0; i < scan; i++) {
      const task = rest[i]!;
      if (fits(task.resources, free) && eligible(task, host)) {
        tasks.push(task);
        free = subtract(free, task.resources);
      }
    }
    candidates.push({ offering, tasks, pricePerTask: offering.pricePerHourMicros / tasks.length });
  }
  return candidates.sort(
    (a, b) =>
      a.pricePerTask - b.pricePerTask ||
      a.offering.pricePerHourMicros - b.offering.pricePerHourMicros ||
      offeringKey(a.offering).localeCompare(offeringKey(b.offering)),
  );
}

interface Tally {
  instances: number;
  vcpus: number;
  gpus: number;
}

/** Counts cloud instances, vCPUs and GPUs (running, in flight and planned) against the policy's limits. */
class Usage {
  readonly #policy: Policy;
  readonly #total: Tally = { instances: 0, vcpus: 0, gpus: 0 };
  readonly #byScope = new Map<string, Tally>();

  constructor(policy: Policy, input: PlanInput) {
    this.#policy = policy;
    const agentsPerIntent = new Map<string, number>();
    for (const agent of input.agents) {
      if (agent.location.kind !== 'cloud' || !agent.providerId) continue;
      this.#count(agent.providerId, agent.location.provider, agent.capacity, 1);
      if (agent.intentId) agentsPerIntent.set(agent.intentId, (agentsPerIntent.get(agent.intentId) ?? 0) + 1);
    }
    for (const intent of input.openLaunches) {
      const count = intent.count - (agentsPerIntent.get(intent.id) ?? 0);
      if (count > 0) this.#count(intent.providerId, intent.offering.provider, intent.offering.capacity, count);
    }
  }

  admits(o: Offering): boolean {
    return this.limitHit(o) === undefined;
  }

  /** The first limit one more instance of `o` would pass, described; undefined when none. */
  limitHit(o: Offering): string | undefined {
    const scopes: [string, Limits | undefined, Tally][] = [
      ['total', this.#policy.limits, this.#total],
      [o.providerId, this.#policy.providerLimits[o.providerId], this.#tally(o.providerId)],
      [o.provider, this.#policy.providerLimits[o.provider], this.#tally(o.provider)],
    ];
    for (const [scope, limits, tally] of scopes) {
      if (!limits) continue;
      if (tally.instances + 1 > limits.maxInstances) return `${scope} maxInstances=${limits.maxInstances}`;
      if (tally.vcpus + vcpus(o.capacity) > limits.maxVcpus) return `${scope} maxVcpus=${limits.maxVcpus}`;
      if (tally.gpus + o.capacity.gpus > limits.maxGpus) return `${scope} maxGpus=${limits.maxGpus}`;
    }
    return undefined;
  }

  add(o: Offering): void {
    this.#count(o.providerId, o.provider, o.capacity, 1);
  }

  #count(providerId: string, provider: string, capacity: Resources, n: number): void {
    for (const tally of [this.#total, this.#tally(providerId), ...(provider === providerId ? [] : [this.#tally(provider)])]) {
      tally.instances += n;
      tally.vcpus += vcpus(capacity) * n;
      tally.gpus += capacity.gpus * n;
    }
  }

  #tally(scope: string): Tally {
    let tally = this.#byScope.get(scope);
    if (!tally) this.#byScope.set(scope, (tally = { instances: 0, vcpus: 0, gpus: 0 }));
    return tally;
  }
}

function vcpus(r: Resources): number {
  return Math.ceil(r.cpuMillis / 1000);
}

/** One launch command per offering, with the owners' shares of the capacity their tasks take. */
function groupLaunches(bins: readonly NewBin[], policy: Policy): LaunchCommand[] {
  const groups = new Map<string, NewBin[]>();
  for (const bin of bins) {
    const key = offeringKey(bin.offering);
    groups.set(key, [...(groups.get(key) ?? []), bin]);
  }
  const launches: LaunchCommand[] = [];
  for (const group of groups.values()) {
    const offering = group[0]!.offering;
    const tasks = group.flatMap((b) => b.tasks);
    const price = formatUsd(offering.pricePerHourMicros, 4);
    launches.push({
      kind: 'launch',
      offering,
      count: group.length,
      owners: ownerShares(tasks, offering),
      taskIds: tasks.map((t) => t.id),
      reason:
        `${tasks.length} task(s) waited over ${policy.pendingGraceMs / 1000} s with no room; ` +
        `${group.length} x ${offering.instanceType} (${offering.lifecycle}) in ${offering.zone} at ${price}/h, ` +
        `${formatUsd(Math.round(offering.pricePerHourMicros * group.length / tasks.length), 4)}/h per task: ` +
        `the cheapest allowed fit`,
    });
  }
  return launches;
}

function ownerShares(tasks: readonly Task[], offering: Offering): OwnerShare[] {
  const weights = new Map<string, { owner: Owner; weight: number }>();
  for (const task of tasks) {
    const key = ownerKey(task.owner);
    const entry = weights.get(key) ?? { owner: task.owner, weight: 0 };
    entry.weight += Math.max(dominantShare(task.resources, offering.capacity), 1e-9);
    weights.set(key, entry);
  }
  const total = [...weights.values()].reduce((sum, e) => sum + e.weight, 0);
  return [...weights.values()]
    .map((e) => ({ owner: e.owner, share: e.weight / total }))
    .sort((a, b) => b.share - a.share || ownerKey(a.owner).localeCompare(ownerKey(b.owner)));
}
