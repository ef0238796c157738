import { SpillwayError } from '../core/errors.ts';

/**
 * A write carried a lease epoch that is no longer the lease's: another controller took the lease over (a newer epoch
 * exists), or the writer's lease expired or was released. The store refused the write and its whole transaction
 * changed nothing. Not retryable: the writer is no longer the leader and must stop acting; it may try to acquire the
 * lease again, which gives it a new epoch. (It means what LeaseLostError means, found by the store itself.)
 */
export class FencedError extends SpillwayError {
  override readonly name = 'FencedError';
  /** The lease's name. */
  readonly lease: string;
  /** The epoch the writer carried. */
  readonly epoch: number;
  /** The lease's epoch when the write was refused; null when the lease was never taken. */
  readonly currentEpoch: number | null;

  constructor(lease: string, epoch: number, currentEpoch: number | null, why: string) {
    super(`writing under lease ${lease} at epoch ${epoch}: refused, ${why}`);
    this.lease = lease;
    this.epoch = epoch;
    this.currentEpoch = currentEpoch;
  }
}
