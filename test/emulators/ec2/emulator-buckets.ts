import type { Clock } from '../../../src/core/clock.ts';

export interface BucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** EC2's documented default buckets (per account and region). */
export const EC2_BUCKETS = {
  runInstancesRequests: { capacity: 5, refillPerSecond: 2 },
  runInstancesInstances: { capacity: 1_000, refillPerSecond: 2 },
  terminateInstancesRequests: { capacity: 100, refillPerSecond: 5 },
  terminateInstancesInstances: { capacity: 1_000, refillPerSecond: 20 },
  describeRequests: { capacity: 100, refillPerSecond: 20 },
} as const satisfies Record<string, BucketSpec>;

export type BucketName = keyof typeof EC2_BUCKETS;

/**
 * One EC2 token bucket as the documentation describes it: full at the start, `refillPerSecond` tokens added at each
 * whole second of the clock, never above `capacity`. Written apart from the product's TokenBucket on purpose: the
 * emulator is EC2's side of the contract.
 */
export class DiscreteBucket {
  readonly #clock: Clock;
  readonly #spec: BucketSpec;
  #tokens: number;
  #second: number;

  constructor(clock: Clock, spec: BucketSpec) {
    this.#clock = clock;
    this.#spec = spec;
    this.#tokens = spec.capacity;
    this.#second = Math.floor(clock.now() / 1000);
  }

  available(): number {
    const second = Math.floor(this.#clock.now() / 1000);
    if (second > this.#second) {
      this.#tokens = Math.min(this.#spec.capacity, this.#tokens + (second - this.#second) * this.#spec.refillPerSecond);
      this.#second = second;
    }
    return this.#tokens;
  }

  /** Takes `count` tokens when all are there; otherwise takes none. */
  tryTake(count: number): boolean {
    if (this.available() < count) return false;
    this.#tokens -= count;
    return true;
  }
}

/** The account's buckets, by name; `undefined` specs switch throttling off. */
export class AccountBuckets {
  readonly #buckets: Map<BucketName, DiscreteBucket> | undefined;

  constructor(clock: Clock, specs: Record<BucketName, BucketSpec> | undefined) {
    this.#buckets =
      specs === undefined
        ? undefined
        : new Map((Object.keys(specs) as BucketName[]).map((name) => [name, new DiscreteBucket(clock, specs[name])]));
  }

  /** Takes from every named bucket at once, or from none; false means RequestLimitExceeded. */
  tryTake(needs: ReadonlyArray<readonly [BucketName, number]>): boolean {
    if (!this.#buckets) return true;
    const buckets = this.#buckets;
    if (!needs.every(([name, count]) => buckets.get(name)!.available() >= count)) return false;
    for (const [name, count] of needs) buckets.get(name)!.tryTake(count);
    return true;
  }
}
