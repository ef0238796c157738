import { performance } from 'node:perf_hooks';

/**
 * A computation that may be paused: each `yield` (no value) ends a slice of bounded work, and the return value is the
 * result. The planner's steps are written so; `runToEnd` runs them at once (tests, the simulator, benchmarks) and
 * `runSliced` lets the event loop run between slices (the controller, whose process also serves the API).
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs the steps without pausing and returns the result. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

export interface SliceOptions {
  /**
   * How long the steps may run before a pause, at least: a pause comes at the first slice end after this much wall
   * time. Time is read only to cut slices, never to decide anything: the result is `runToEnd`'s. 0: a pause at every
   * slice end.
   */
  readonly sliceMs: number;
  /** Lets other work run; default: one turn of the event loop (setImmediate). */
  readonly pause?: () => Promise<void>;
  /** The time slices are measured on, in ms; default: `performance.now` (the process's CPU-bound wall time). */
  readonly now?: () => number;
}

/** Runs the steps, pausing (`pause`) after every `sliceMs` of work, and returns the result (the same as runToEnd). */
export async function runSliced<T>(steps: Steps<T>, opts: SliceOptions): Promise<T> {
  const pause = opts.pause ?? nextTurn;
  const now = opts.now ?? (() => performance.now());
  let started = now();
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (now() - started >= opts.sliceMs) {
      await pause();
      started = now();
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
