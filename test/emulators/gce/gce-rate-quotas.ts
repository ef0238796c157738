import type { Clock } from '../../../src/core/clock.ts';

export type RateQuotaGroup = 'mutations' | 'lists' | 'operationReads';

/** Compute Engine's documented default: 1,500 requests per minute per project in each group. */
export const DEFAULT_RATE_QUOTAS: Readonly<Record<RateQuotaGroup, number>> = {
  mutations: 1_500,
  lists: 1_500,
  operationReads: 1_500,
};

/**
 * GCE's rate quotas as documented: each group allows so many requests per synchronized minute of the clock (a quota
 * used up at 10:00:15 refills at 10:01:00). Written apart from the product's buckets on purpose: this is GCE's side.
 */
export class RateQuotas {
  readonly #clock: Clock;
  readonly #limits: Readonly<Record<RateQuotaGroup, number>>;
  readonly #used = new Map<RateQuotaGroup, { minute: number; count: number }>();

  constructor(clock: Clock, limits: Readonly<Record<RateQuotaGroup, number>> = DEFAULT_RATE_QUOTAS) {
    this.#clock = clock;
    this.#limits = limits;
  }

  /** Counts one request of `group`; false when the minute's quota is used up (403 rateLimitExceeded). */
  tryTake(group: RateQuotaGroup): boolean {
    const minute = Math.floor(this.#clock.now() / 60_000);
    const used = this.#used.get(group);
    const count = used && used.minute === minute ? used.count : 0;
    if (count >= this.#limits[group]) return false;
    this.#used.set(group, { minute, count: count + 1 });
    return true;
  }
}
