/** Time, injected. Code in autoscaler/ and cost-model/ reads time only through a Clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, opts?: { signal?: AbortSignal }): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, opts = {}) =>
    new Promise<void>((resolve, reject) => {
      const { signal } = opts;
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

interface Sleeper {
  readonly at: number;
  readonly resolve: () => void;
}

/** A clock that moves only when a test or the simulator steps it. */
export class ManualClock implements Clock {
  #nowMs: number;
  #sleepers: Sleeper[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  sleep(ms: number, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = { at: this.#nowMs + ms, resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms`, waking every sleeper whose time has come, in time order. */
  advance(ms: number): void {
    this.set(this.#nowMs + ms);
  }

  set(nowMs: number): void {
    this.#nowMs = Math.max(this.#nowMs, nowMs);
    const due = this.#sleepers.filter((s) => s.at <= this.#nowMs).sort((a, b) => a.at - b.at);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#nowMs);
    for (const sleeper of due) sleeper.resolve();
  }

  /** The earliest time a sleeper waits for, or undefined when none waits. */
  nextWakeAt(): number | undefined {
    let next: number | undefined;
    for (const s of this.#sleepers) if (next === undefined || s.at < next) next = s.at;
    return next;
  }
}
