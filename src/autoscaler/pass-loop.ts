import type { Clock } from '../core/clock.ts';

export interface PassLoopOptions {
  readonly clock: Clock;
  /** The longest wait between two passes. */
  readonly intervalMs: number;
  /** How long after a wake-up the next pass starts, so a burst of wake-ups makes one pass. */
  readonly coalesceMs: number;
  /**
   * One pass. Resolves with when the next pass is due at the latest (undefined: the interval); a rejection is given to
   * `onError` and the loop goes on.
   */
  readonly pass: () => Promise<number | undefined>;
  readonly onError: (err: unknown) => void;
}

/**
 * Runs passes one at a time on an injected clock: each pass, then a wait until the time it said the next is due or
 * the interval, whichever comes first. wake() cuts a wait short (the next pass starts `coalesceMs` later, whatever
 * other wake-ups come meanwhile); a wake-up during a pass makes one more pass after it. Never two passes at once.
 */
export class PassLoop {
  readonly #o: PassLoopOptions;
  #running: Promise<void> | undefined;
  #stopping = new AbortController();
  /** Cuts the current wait short; set while the loop waits and may be woken. */
  #cut: (() => void) | undefined;
  /** A wake-up came since the current pass began. */
  #woken = false;

  constructor(opts: PassLoopOptions) {
    this.#o = opts;
  }

  /** Starts the loop (the first pass at once); does nothing when it runs. */
  start(): void {
    if (this.#running) return;
    this.#stopping = new AbortController();
    this.#running = this.#run(this.#stopping.signal);
  }

  /** Asks for a pass soon. Cheap: call it on every change. */
  wake(): void {
    this.#woken = true;
    this.#cut?.();
  }

  /** Ends the loop: a wait ends at once, a pass in flight runs to its end; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error('the loop is stopping'));
    await this.#running;
    this.#running = undefined;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#woken = false;
      let dueMs: number | undefined;
      try {
        dueMs = await this.#o.pass();
      } catch (err) {
        this.#o.onError(err);
      }
      if (signal.aborted) break;
      await this.#waitForNext(signal, dueMs);
    }
  }

  async #waitForNext(signal: AbortSignal, dueMs: number | undefined): Promise<void> {
    const { clock, intervalMs, coalesceMs } = this.#o;
    const nowMs = clock.now();
    const untilMs = Math.min(nowMs + intervalMs, dueMs ?? Infinity);
    if (!this.#woken) await this.#sleep(signal, Math.max(0, untilMs - nowMs), true);
    if (!this.#woken || signal.aborted) return;
    const gatherMs = Math.min(coalesceMs, Math.max(0, untilMs - clock.now()));
    if (gatherMs > 0) await this.#sleep(signal, gatherMs, false);
  }

  /** Sleeps `ms` on the clock until stop(); a wake-up cuts it short when `wakeable`. */
  #sleep(signal: AbortSignal, ms: number, wakeable: boolean): Promise<void> {
    const done = new AbortController();
    const onStop = (): void => done.abort();
    signal.addEventListener('abort', onStop, { once: true });
    if (wakeable) this.#cut = () => done.abort();
    return this.#o.clock
      .sleep(ms, { signal: done.signal })
      .catch(() => undefined)
      .finally(() => {
        if (wakeable) this.#cut = undefined;
        signal.removeEventListener('abort', onStop);
      });
  }
}
