import type { Clock } from '../core/clock.ts';

export interface TokenBucketOptions {
  /** Most tokens the bucket holds (the burst). */
  readonly capacity: number;
  /** Tokens added per second of clock time. */
  readonly refillPerSecond: number;
}

/**
 * A token bucket on the injected clock, mirroring a cloud API's documented rate limits so a burst never meets the
 * cloud's throttling. Callers `take` before each call and wait their turn in order.
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #capacity: number;
  readonly #refillPerMs: number;
  #tokens: number;
  #updatedAtMs: number;
  #tail: Promise<void> = Promise.resolve();

  constructor(clock: Clock, opts: TokenBucketOptions) {
    if (!(opts.capacity > 0)) throw new RangeError(`capacity must be > 0, got ${opts.capacity}`);
    if (!(opts.refillPerSecond > 0)) throw new RangeError(`refillPerSecond must be > 0, got ${opts.refillPerSecond}`);
    this.#clock = clock;
    this.#capacity = opts.capacity;
    this.#refillPerMs = opts.refillPerSecond / 1000;
    this.#tokens = opts.capacity;
    this.#updatedAtMs = clock.now();
  }

  /** Tokens available now. */
  available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes `count` tokens if they are there now. */
  tryTake(count = 1): boolean {
    this.#refill();
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  /**
   * Waits, in arrival order, until `count` tokens are there, then takes them. A `count` above the capacity waits for
   * a full bucket and leaves it in debt, which later takers wait out: the long-run rate holds either way.
   */
  take(count = 1, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const turn = this.#tail.then(() => this.#waitFor(Math.min(count, this.#capacity), opts.signal));
    const taken = turn.then(() => {
      this.#tokens -= count;
    });
    this.#tail = taken.catch(() => undefined);
    return taken;
  }

  async #waitFor(count: number, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      this.#refill();
      if (this.#tokens >= count) return;
      const waitMs = Math.ceil((count - this.#tokens) / this.#refillPerMs);
      await this.#clock.sleep(waitMs, signal ? { signal } : {});
    }
  }

  #refill(): void {
    const now = this.#clock.now();
    if (now > this.#updatedAtMs) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#updatedAtMs) * this.#refillPerMs);
      this.#updatedAtMs = now;
    }
  }
}
