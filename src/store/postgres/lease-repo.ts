import type { AsyncRepo } from '../async-store.ts';
import type { LeaseRepo } from '../store.ts';
import type { PgFencedLease } from './fenced-lease.ts';

/**
 * The store port's lease on PostgreSQL, over the fenced lease. Time is the database's: the callers' `nowMs` is not
 * used (controllers on separate machines must not compare their clocks), so "expired" means by the database clock.
 * A controller that fences its writes uses PgFencedLease itself, for the epoch.
 */
export class PgLeaseRepo implements AsyncRepo<LeaseRepo> {
  readonly #lease: PgFencedLease;

  constructor(lease: PgFencedLease) {
    this.#lease = lease;
  }

  async acquire(name: string, holder: string, _nowMs: number, ttlMs: number): Promise<boolean> {
    return (await this.#lease.acquire(name, holder, ttlMs)) !== undefined;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.#lease.release(name, holder);
  }

  async holder(name: string, _nowMs: number): Promise<string | undefined> {
    return (await this.#lease.current(name))?.holder;
  }

  async epoch(name: string, holder: string, _nowMs: number): Promise<number | undefined> {
    const grant = await this.#lease.current(name);
    return grant?.holder === holder ? grant.epoch : undefined;
  }

  /** The database's clock decides expiry; `nowMs` is not used. */
  check(name: string, epoch: number, _nowMs: number): Promise<void> {
    return this.#lease.check(name, epoch);
  }
}
