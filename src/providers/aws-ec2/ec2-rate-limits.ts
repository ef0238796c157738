import type { Clock } from '../../core/clock.ts';
import { TokenBucket, type TokenBucketOptions } from '../../autoscaler/token-bucket.ts';

/** One of EC2's token buckets: `capacity` tokens, `refillPerSecond` added back each second. */
export interface Ec2Bucket {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** The buckets EC2 throttles Spillway's calls with, per account and region. */
export interface Ec2Buckets {
  /** RunInstances calls. */
  readonly runInstancesRequests: Ec2Bucket;
  /** Instances launched by RunInstances (resource rate limit). */
  readonly runInstancesInstances: Ec2Bucket;
  readonly terminateInstancesRequests: Ec2Bucket;
  /** Instances terminated by TerminateInstances (resource rate limit). */
  readonly terminateInstancesInstances: Ec2Bucket;
  /** DescribeInstances, DescribeInstanceTypes and DescribeSpotPriceHistory calls. */
  readonly describeRequests: Ec2Bucket;
}

/** EC2's documented default buckets (Amazon EC2 developer guide, "Request throttling for the Amazon EC2 API"). */
export const EC2_DOCUMENTED_BUCKETS: Ec2Buckets = Object.freeze({
  runInstancesRequests: { capacity: 5, refillPerSecond: 2 },
  runInstancesInstances: { capacity: 1_000, refillPerSecond: 2 },
  terminateInstancesRequests: { capacity: 100, refillPerSecond: 5 },
  terminateInstancesInstances: { capacity: 1_000, refillPerSecond: 20 },
  describeRequests: { capacity: 100, refillPerSecond: 20 },
});

/**
 * The client-side bucket that never outruns `server`: EC2 adds its refill once a second, at a phase the client cannot
 * see, while a TokenBucket refills continuously; holding one second's refill less than EC2's capacity makes every
 * window of client takes fit in what EC2 allows over that window, whatever the phase.
 */
export function clientBucket(server: Ec2Bucket): TokenBucketOptions {
  return { capacity: Math.max(1, server.capacity - server.refillPerSecond), refillPerSecond: server.refillPerSecond };
}

interface Lane {
  readonly bucket: TokenBucket;
  readonly refillPerMs: number;
  readonly capacity: number;
}

function lane(clock: Clock, server: Ec2Bucket): Lane {
  const options = clientBucket(server);
  return {
    bucket: new TokenBucket(clock, options),
    refillPerMs: options.refillPerSecond / 1000,
    capacity: options.capacity,
  };
}

/**
 * Keeps Spillway's EC2 calls within EC2's buckets, on the injected clock, so a burst never meets RequestLimitExceeded.
 * A call waits, in arrival order among calls of its kind, until every bucket it needs has its tokens, and takes them
 * all at one instant (a request token taken long before its instance tokens would let calls bunch up at EC2).
 */
export class Ec2RateLimiter {
  /** Most instances one RunInstances call may ask for: larger launches are split into calls of this size. */
  readonly maxInstancesPerRun: number;
  /** Most instance ids one TerminateInstances call carries (EC2 takes up to 1,000). */
  readonly maxInstancesPerTerminate: number;
  readonly #clock: Clock;
  readonly #run: Lane;
  readonly #runInstances: Lane;
  readonly #terminate: Lane;
  readonly #terminateInstances: Lane;
  readonly #describe: Lane;
  /** One queue per kind of call: a RunInstances waiting for instance tokens must not hold up a Describe. */
  readonly #tails = new Map<string, Promise<void>>();

  constructor(clock: Clock, buckets: Ec2Buckets = EC2_DOCUMENTED_BUCKETS) {
    this.#clock = clock;
    this.#run = lane(clock, buckets.runInstancesRequests);
    const runInstances = lane(clock, buckets.runInstancesInstances);
    this.#runInstances = runInstances;
    this.#terminate = lane(clock, buckets.terminateInstancesRequests);
    const terminateInstances = lane(clock, buckets.terminateInstancesInstances);
    this.#terminateInstances = terminateInstances;
    this.#describe = lane(clock, buckets.describeRequests);
    this.maxInstancesPerRun = runInstances.capacity;
    this.maxInstancesPerTerminate = Math.min(1_000, terminateInstances.capacity);
  }

  /** Waits for one RunInstances call of `count` instances (at most maxInstancesPerRun). */
  runInstances(count: number, signal?: AbortSignal): Promise<void> {
    return this.#acquire(
      'run',
      [
        [this.#run, 1],
        [this.#runInstances, count],
      ],
      signal,
    );
  }

  /** Waits for one TerminateInstances call of `count` ids (at most maxInstancesPerTerminate). */
  terminateInstances(count: number, signal?: AbortSignal): Promise<void> {
    return this.#acquire(
      'terminate',
      [
        [this.#terminate, 1],
        [this.#terminateInstances, count],
      ],
      signal,
    );
  }

  /** Waits for one Describe call. */
  describe(signal?: AbortSignal): Promise<void> {
    return this.#acquire('describe', [[this.#describe, 1]], signal);
  }

  #acquire(queue: string, needs: readonly (readonly [Lane, number])[], signal: AbortSignal | undefined): Promise<void> {
    for (const [l, count] of needs) {
      if (count > l.capacity) {
        return Promise.reject(
          new RangeError(`one call may take at most ${l.capacity} tokens of a bucket, asked ${count}`),
        );
      }
    }
    const turn = (this.#tails.get(queue) ?? Promise.resolve()).then(() => this.#waitAndTake(needs, signal));
    this.#tails.set(
      queue,
      turn.catch(() => undefined),
    );
    return turn;
  }

  async #waitAndTake(needs: readonly (readonly [Lane, number])[], signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      let waitMs = 0;
      for (const [l, count] of needs) {
        const missing = count - l.bucket.available();
        if (missing > 0) waitMs = Math.max(waitMs, Math.ceil(missing / l.refillPerMs));
      }
      if (waitMs === 0) {
        for (const [l, count] of needs) l.bucket.tryTake(count);
        return;
      }
      await this.#clock.sleep(waitMs, signal ? { signal } : {});
    }
  }
}
