import type { Clock } from '../core/clock.ts';
import { TokenBucket, type TokenBucketOptions } from '../autoscaler/token-bucket.ts';

/** One client-side bucket a kind of call draws from. */
export interface Lane {
  readonly bucket: TokenBucket;
  readonly refillPerMs: number;
  readonly capacity: number;
}

/** A lane over a TokenBucket on `clock`. */
export function lane(clock: Clock, options: TokenBucketOptions): Lane {
  return {
    bucket: new TokenBucket(clock, options),
    refillPerMs: options.refillPerSecond / 1000,
    capacity: options.capacity,
  };
}

/** What one call takes: `count` tokens of each lane. */
export type Needs = readonly (readonly [Lane, number])[];

/**
 * Keeps a cloud adapter's calls within the cloud's rate limits, on the injected clock. Each call names its queue (one
 * per kind of call, so a launch waiting for instance tokens never holds up a list) and what it needs; it waits, in
 * arrival order within its queue, until every lane it needs has its tokens, and takes them all at one instant (a
 * request token taken long before its instance tokens would let calls bunch up at the cloud). Shared by the EC2 and
 * GCE adapters; each knows its own buckets.
 */
export class CallRateLimiter {
  readonly #clock: Clock;
  readonly #tails = new Map<string, Promise<void>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Waits for `needs`; rejects with a RangeError when one call asks for more than a lane can ever hold. */
  acquire(queue: string, needs: Needs, signal: AbortSignal | undefined): Promise<void> {
    for (const [l, count] of needs) {
      if (count > l.capacity) {
        return Promise.reject(
          new RangeError(`one call may take at most ${l.capacity} tokens of a bucket, asked ${count}`),
        );
      }
    }
    const before = this.#tails.get(queue) ?? Promise.resolve();
    const turn = untilAborted(before, signal).then(() => this.#waitAndTake(needs, signal));
    // The next call's turn comes once this one is over and so is every call before it: an aborted call leaves the
    // queue at once without letting the calls behind it overtake the ones ahead of it.
    this.#tails.set(
      queue,
      Promise.allSettled([before, turn]).then(() => undefined),
    );
    return turn;
  }

  async #waitAndTake(needs: Needs, signal: AbortSignal | undefined): Promise<void> {
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

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts. */
function untilAborted(work: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void work.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject);
  });
}
