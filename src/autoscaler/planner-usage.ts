import type { Agent } from '../core/agent.ts';
import type { LaunchIntent } from '../core/intent.ts';
import type { Offering } from '../core/offering.ts';
import type { Limits, Policy } from '../core/policy.ts';
import type { Resources } from '../core/resources.ts';

interface Tally {
  instances: number;
  vcpus: number;
  gpus: number;
}

/**
 * Counts cloud instances, vCPUs and GPUs (running, in flight and planned) against the policy's limits, in total and
 * per provider id and kind. An open launch intent counts for the instances reconcile has not adopted as agents yet.
 */
export class Usage {
  readonly #policy: Policy;
  readonly #total: Tally = { instances: 0, vcpus: 0, gpus: 0 };
  readonly #byScope = new Map<string, Tally>();

  constructor(policy: Policy, agents: readonly Agent[], openLaunches: readonly LaunchIntent[]) {
    this.#policy = policy;
    const agentsPerIntent = new Map<string, number>();
    for (const agent of agents) {
      if (agent.location.kind !== 'cloud' || !agent.providerId) continue;
      this.#count(agent.providerId, agent.location.provider, agent.capacity, 1);
      if (agent.intentId) agentsPerIntent.set(agent.intentId, (agentsPerIntent.get(agent.intentId) ?? 0) + 1);
    }
    for (const intent of openLaunches) {
      const count = intent.count - (agentsPerIntent.get(intent.id) ?? 0);
      if (count > 0) this.#count(intent.providerId, intent.offering.provider, intent.offering.capacity, count);
    }
  }

  admits(o: Offering): boolean {
    return this.limitHit(o) === undefined;
  }

  /** The first limit one more instance of `o` would pass, described; undefined when none. */
  limitHit(o: Offering): string | undefined {
    // Called once per instance planned: the three scopes in turn, without building a list of them.
    const { limits, providerLimits } = this.#policy;
    return (
      limitOf('total', limits, this.#total, o) ??
      limitOf(o.providerId, providerLimits[o.providerId], this.#tally(o.providerId), o) ??
      limitOf(o.provider, providerLimits[o.provider], this.#tally(o.provider), o)
    );
  }

  add(o: Offering): void {
    this.#count(o.providerId, o.provider, o.capacity, 1);
  }

  #count(providerId: string, provider: string, capacity: Resources, n: number): void {
    for (const tally of [
      this.#total,
      this.#tally(providerId),
      ...(provider === providerId ? [] : [this.#tally(provider)]),
    ]) {
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

/** The limit of `scope` one more instance of `o` would pass, described; undefined when none (or no limits). */
function limitOf(scope: string, limits: Limits | undefined, tally: Tally, o: Offering): string | undefined {
  if (!limits) return undefined;
  if (tally.instances + 1 > limits.maxInstances) return `${scope} maxInstances=${limits.maxInstances}`;
  if (tally.vcpus + vcpus(o.capacity) > limits.maxVcpus) return `${scope} maxVcpus=${limits.maxVcpus}`;
  if (tally.gpus + o.capacity.gpus > limits.maxGpus) return `${scope} maxGpus=${limits.maxGpus}`;
  return undefined;
}

/** vCPUs an instance counts for against `maxVcpus`: its CPU capacity rounded up to whole CPUs. */
export function vcpus(r: Resources): number {
  return Math.ceil(r.cpuMillis / 1000);
}
