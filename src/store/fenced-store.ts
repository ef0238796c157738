import type { Clock } from '../core/clock.ts';
import { REPO_NAMES, type AsyncStore } from './async-store.ts';

/** The tenure a fenced view writes under: the lease's name and the epoch its holder was granted. */
export interface Tenure {
  readonly lease: string;
  /** The epoch now held; read at every call, so a renewed tenure keeps working and a new one is picked up. */
  epoch(): number;
}

/**
 * A view of `store` for a leader: every call, and every `transaction`, runs in one transaction that first checks the
 * leader's epoch (`lease.check`): when another controller took the lease over, or the leader's lease lapsed (a pause
 * past its ttl: SIGSTOP, a long GC, a lost network), the call rejects with FencedError and writes nothing. A nested
 * call checks again inside the open transaction, which costs one read.
 *
 * Reads are fenced too: one rule for every call is simpler to trust than a list of which methods write. The lease's
 * own methods are not (a leader that lost its tenure must be able to take the lease again). `close` closes nothing:
 * the view does not own the store.
 *
 * An empty `transaction` is the check right before a cloud call (the controller's `hold`): the call goes out only if
 * the tenure still held a moment ago. It cannot hold the lease across the call (a transaction must not span a cloud call); what makes a call that
 * raced a takeover safe is that it can only resend an intent recorded under the old tenure, with that intent's
 * idempotency token.
 */
export function fencedStore(store: AsyncStore, tenure: Tenure, clock: Clock): AsyncStore {
  const inFence = <T>(fn: () => Promise<T>): Promise<T> =>
    store.transaction(async () => {
      await store.lease.check(tenure.lease, tenure.epoch(), clock.now());
      return fn();
    });
  const wrap = <R extends object>(repo: R): R =>
    new Proxy(repo, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => inFence(async () => (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
  // The lease itself is not fenced: a leader that lost its tenure must still be able to take the lease again.
  const repos = Object.fromEntries(
    REPO_NAMES.map((name) => [name, name === 'lease' ? store.lease : wrap(store[name])]),
  );
  return {
    ...(repos as { [K in keyof typeof repos]: never }),
    // The change feed only reads, and the in-memory model of the store is found by it (one per feed).
    ...(store.changes === undefined ? {} : { changes: store.changes }),
    transaction: (fn) => inFence(fn),
    close: async () => undefined,
  } as AsyncStore;
}

/** No epoch is held: every fenced call is refused. */
const NO_EPOCH = -1;

/**
 * The tenure a controller holds, for its fenced view: it records the epoch the lease granted (`hold`) and forgets it
 * when the controller stands by (`drop`). Until `hold`, and after `drop`, every call of the view is refused.
 */
export class LeaseTenure implements Tenure {
  readonly lease: string;
  #epoch = NO_EPOCH;

  constructor(lease: string) {
    this.lease = lease;
  }

  epoch(): number {
    return this.#epoch;
  }

  get held(): boolean {
    return this.#epoch !== NO_EPOCH;
  }

  hold(epoch: number): void {
    this.#epoch = epoch;
  }

  drop(): void {
    this.#epoch = NO_EPOCH;
  }
}
