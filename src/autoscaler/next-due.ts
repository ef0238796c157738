/**
 * When the control loop must run its next pass at the latest: the earliest moment after `nowMs` at which something
 * the last pass held back becomes due on its own, with no request to announce it (pure).
 *
 * - a pending task's grace period ends (`pendingSinceMs + pendingGraceMs`; a task an interruption returned is
 *   already due, see `dueAfterInterruption`, so pass the pending tasks as the planner saw them);
 * - an open launch breaker's backoff ends (`retryAtMs`), and its launches may be tried again;
 * - an offering marked unavailable after a capacity error comes back (`unavailableUntilMs`).
 *
 * Moments at or before `nowMs` were due in the pass just run and do not count again: whatever still waits on them
 * waits for something else (room, a limit, a budget), which a change or the interval brings. The answer is never
 * later than `nowMs + intervalMs`, the loop's regular beat, and never earlier than `nowMs + 1`.
 */
export interface DueInputs {
  readonly nowMs: number;
  /** The loop's interval: the latest next pass. */
  readonly intervalMs: number;
  readonly pendingGraceMs: number;
  /** Every pending task's `pendingSinceMs`, as the planner saw it. */
  readonly pendingSinceMs: Iterable<number>;
  /** Every open launch breaker's `retryAtMs`. */
  readonly breakerRetryAtMs: Iterable<number>;
  /** When each offering marked unavailable becomes available again. */
  readonly unavailableUntilMs: Iterable<number>;
}

export function nextDueMs(inputs: DueInputs): number {
  const { nowMs } = inputs;
  let next = nowMs + Math.max(1, inputs.intervalMs);
  const consider = (atMs: number): void => {
    if (atMs > nowMs && atMs < next) next = atMs;
  };
  for (const since of inputs.pendingSinceMs) consider(since + inputs.pendingGraceMs);
  for (const at of inputs.breakerRetryAtMs) consider(at);
  for (const at of inputs.unavailableUntilMs) consider(at);
  return next;
}
