import type { TokenBucketOptions } from '../../autoscaler/token-bucket.ts';
import type { Clock } from '../../core/clock.ts';
import { CallRateLimiter, lane, type Lane } from '../call-rate-limiter.ts';

/** Requests per minute Compute Engine allows this project in a quota group. */
export interface GceRateLimits {
  readonly mutationsPerMinute: number;
  readonly listsPerMinute: number;
  readonly operationReadsPerMinute: number;
}

/**
 * The client-side bucket that never outruns a per-minute quota: GCE counts requests in fixed minutes the client cannot
 * see the phase of, while a TokenBucket refills continuously. A bucket of `burst` plus `refill` per minute takes at
 * most burst + refill in any minute, so holding a fifth as burst and refilling the rest keeps every minute within the
 * quota, whatever the phase, at 80% of it sustained.
 */
export function clientBucketPerMinute(perMinute: number): TokenBucketOptions {
  const capacity = Math.max(1, Math.floor(perMinute / 5));
  return { capacity, refillPerSecond: Math.max(perMinute - capacity, 1) / 60 };
}

/**
 * Keeps one region's Compute calls within its rate quotas, on the injected clock: inserts, bulk inserts and deletes
 * draw from the mutation bucket, list pages from the list bucket, operation waits from the operation-read bucket.
 * Each kind of call queues apart, so a launch waiting for a mutation token never holds up reconcile's list.
 */
export class GceRateLimiter {
  readonly #calls: CallRateLimiter;
  readonly #mutations: Lane;
  readonly #lists: Lane;
  readonly #operationReads: Lane;

  constructor(clock: Clock, limits: GceRateLimits) {
    this.#calls = new CallRateLimiter(clock);
    this.#mutations = lane(clock, clientBucketPerMinute(limits.mutationsPerMinute));
    this.#lists = lane(clock, clientBucketPerMinute(limits.listsPerMinute));
    this.#operationReads = lane(clock, clientBucketPerMinute(limits.operationReadsPerMinute));
  }

  /** Waits for one insert, bulkInsert or delete. */
  mutation(signal?: AbortSignal): Promise<void> {
    return this.#calls.acquire('mutation', [[this.#mutations, 1]], signal);
  }

  /** Waits for one list page. */
  list(signal?: AbortSignal): Promise<void> {
    return this.#calls.acquire('list', [[this.#lists, 1]], signal);
  }

  /** Waits for one zoneOperations.wait. */
  operationRead(signal?: AbortSignal): Promise<void> {
    return this.#calls.acquire('operation', [[this.#operationReads, 1]], signal);
  }
}
