/**
 * Faults the emulator injects, as the network and EC2 produce them:
 * - `latency`: the answer comes `latencyMs` (real time) late;
 * - `error`: EC2 answers an error (default `InternalError`, 500) and nothing happens;
 * - `drop`: the connection is closed before EC2 acts: nothing happens, no answer;
 * - `lose-response`: EC2 acts, then the connection is closed: the call took effect but its answer never arrives.
 */
export type FaultKind = 'latency' | 'error' | 'drop' | 'lose-response';

export interface Fault {
  readonly kind: FaultKind;
  /** Only calls of this action; default any. */
  readonly action?: string;
  /** How many calls it hits; default 1. */
  readonly times?: number;
  readonly latencyMs?: number;
  readonly code?: string;
  readonly status?: number;
  readonly message?: string;
}

/** Pending faults, consumed in the order injected by the calls they match. */
export class FaultQueue<F extends Fault = Fault> {
  readonly #pending: Array<{ fault: F; left: number }> = [];

  add(fault: F): void {
    this.#pending.push({ fault, left: fault.times ?? 1 });
  }

  /** The fault the next call of `action` meets, if any (and counts it). */
  take(action: string): F | undefined {
    const index = this.#pending.findIndex((p) => p.fault.action === undefined || p.fault.action === action);
    if (index < 0) return undefined;
    const entry = this.#pending[index]!;
    entry.left -= 1;
    if (entry.left <= 0) this.#pending.splice(index, 1);
    return entry.fault;
  }

  clear(): void {
    this.#pending.length = 0;
  }
}
