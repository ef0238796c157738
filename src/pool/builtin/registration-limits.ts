import { TokenBucket } from '../../autoscaler/token-bucket.ts';
import type { Clock } from '../../core/clock.ts';
import { SpillwayError } from '../../core/errors.ts';

/** How many failed registrations a credential, and an address, may make: a burst, then a steady rate. */
export interface FailureLimit {
  /** Failures allowed at once. */
  readonly burst: number;
  /** Failures allowed per second after the burst. */
  readonly refillPerSecond: number;
}

/** Ten failures at once, then one every six seconds: an agent that retries by its backoff never meets it. */
export const DEFAULT_FAILURE_LIMIT: FailureLimit = Object.freeze({ burst: 10, refillPerSecond: 1 / 6 });

/** Buckets kept before full ones are forgotten. */
const MAX_BUCKETS = 10_000;

/** Too many failed registrations from this credential or address: the API answers 429 with Retry-After. */
export class TooManyFailuresError extends SpillwayError {
  override readonly name = 'TooManyFailuresError';
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super(message, { retryable: true });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Token buckets on the injected clock, one per credential and one per address, that only failed registrations
 * drain. A caller whose bucket is empty is refused before any verification, so a guessing script costs the
 * controller little and fills neither the audit log nor the store.
 */
export class RegistrationFailureLimiter {
  readonly #clock: Clock;
  readonly #limit: FailureLimit;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(clock: Clock, limit: FailureLimit = DEFAULT_FAILURE_LIMIT) {
    this.#clock = clock;
    this.#limit = limit;
  }

  /** Throws TooManyFailuresError when any of `keys` has no failure left. Takes nothing. */
  check(keys: readonly string[]): void {
    const spent = this.spent(keys);
    if (spent) throw spent;
  }

  /** The TooManyFailuresError of the first of `keys` with no failure left, or undefined. Takes nothing. */
  spent(keys: readonly string[]): TooManyFailuresError | undefined {
    for (const key of keys) {
      const bucket = this.#buckets.get(key);
      if (bucket && bucket.available() < 1) {
        const retryAfterMs = Math.ceil((1 - bucket.available()) / (this.#limit.refillPerSecond / 1000));
        return new TooManyFailuresError(
          `registering: too many failed registrations from this ${key.split(':')[0]}; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
          retryAfterMs,
        );
      }
    }
    return undefined;
  }

  /** Counts one failure against each of `keys`. */
  fail(keys: readonly string[]): void {
    if (this.#buckets.size > MAX_BUCKETS) this.#forgetFull();
    for (const key of keys) {
      let bucket = this.#buckets.get(key);
      if (!bucket) {
        bucket = new TokenBucket(this.#clock, {
          capacity: this.#limit.burst,
          refillPerSecond: this.#limit.refillPerSecond,
        });
        this.#buckets.set(key, bucket);
      }
      bucket.tryTake(1);
    }
  }

  #forgetFull(): void {
    for (const [key, bucket] of this.#buckets) if (bucket.available() >= this.#limit.burst) this.#buckets.delete(key);
  }
}
