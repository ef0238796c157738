import type { PriceUpdate } from '../../cost-model/price-book-updates.ts';
import type { Ec2PriceUpdates } from './price-refresh.ts';

/** Where EC2's live prices come from, as the price book records it. */
export const EC2_SPOT_PRICE_SOURCE = 'ec2:DescribeSpotPriceHistory';

/**
 * The price book's updates from one EC2 refresh: each zone's current spot price. Pass them to `PriceBook.apply`,
 * which keeps the last good price when one is stale or invalid. Specs (capacity) are not prices: the price book takes
 * them from its catalog.
 */
export function toPriceBookUpdates(updates: Ec2PriceUpdates): PriceUpdate[] {
  return updates.spotPrices.map((p) => ({
    provider: 'aws-ec2',
    region: updates.region,
    instanceType: p.instanceType,
    lifecycle: 'spot',
    zone: p.zone,
    pricePerHourMicros: p.pricePerHourMicros,
    observedAtMs: p.observedAtMs,
    source: EC2_SPOT_PRICE_SOURCE,
  }));
}
