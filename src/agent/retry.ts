import { ApiError } from '../api/client.ts';
import { SpillwayError } from '../core/errors.ts';
import { systemClock } from '../core/clock.ts';

/** Capped exponential backoff. */
export interface Backoff {
  /** The first delay; default 500 ms. */
  readonly initialMs: number;
  /** No delay is longer; default 30 s. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = Object.freeze({ initialMs: 500, maxMs: 30_000 });

/**
 * The delay before retry number `attempt` (0 for the first retry): doubling from `initialMs` up to `maxMs`, with
 * jitter in [50%, 100%] so a fleet of agents that lost the controller together does not come back in lockstep.
 */
export function backoffDelayMs(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/** True for failures a retry may fix: the network, a 5xx or a 429. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429;
  return err instanceof SpillwayError && err.retryable;
}

/** The HTTP status of an answer the controller gave, or undefined for a network failure. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof ApiError ? err.status : undefined;
}

export interface RetryOptions {
  readonly backoff: Backoff;
  /** Whether this failure deserves another attempt. */
  readonly shouldRetry: (err: unknown) => boolean;
  /** Give up (rethrowing the last failure) when the next attempt would start after this time (epoch ms). */
  readonly deadlineMs?: number;
  /** Aborting stops the waiting and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called before each wait, for logs. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `fn` until it succeeds, a failure is not retryable, the deadline passes or the signal aborts. `fn` gets the
 * attempt number, from 0.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (!opts.shouldRetry(err)) throw err;
      const delayMs = backoffDelayMs(attempt, opts.backoff);
      if (opts.deadlineMs !== undefined && Date.now() + delayMs > opts.deadlineMs) throw err;
      opts.onRetry?.(err, attempt, delayMs);
      await systemClock.sleep(delayMs, { signal: opts.signal });
    }
  }
}
