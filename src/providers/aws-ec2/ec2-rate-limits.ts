import type { Clock } from '../../core/clock.ts';
import type { TokenBucketOptions } from '../../autoscaler/token-bucket.ts';
import { CallRateLimiter, lane as bucketLane, type Lane, type Needs } from '../call-rate-limiter.ts';

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

function lane(clock: Clock, server: Ec2Bucket): Lane {
  return bucketLane(clock, clientBucket(server));
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
  readonly #calls: CallRateLimiter;
  readonly #run: Lane;
  readonly #runInstances: Lane;
  readonly #terminate: Lane;
  readonly #terminateInstances: Lane;
  readonly #describe: Lane;

  constructor(clock: Clock, buckets: Ec2Buckets = EC2_DOCUMENTED_BUCKETS) {
    this.#calls = new CallRateLimiter(clock);
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

  #acquire(queue: string, needs: Needs, signal: AbortSignal | undefined): Promise<void> {
    return this.#calls.acquire(queue, needs, signal);
  }
}
