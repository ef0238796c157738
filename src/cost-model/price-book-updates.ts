import type { Offering } from '../core/offering.ts';

/** A live price for one instance type, as a provider adapter observed it (spot price history, a pricing API). */
export interface PriceUpdate {
  /** Catalog provider kind: `aws-ec2` or `gcp-compute`. */
  readonly provider: string;
  readonly region: string;
  readonly instanceType: string;
  readonly lifecycle: Offering['lifecycle'];
  /** Set for a zone's own price (EC2 spot prices differ by availability zone); unset for the whole region. */
  readonly zone?: string;
  /** Integer micro-USD per hour, positive. */
  readonly pricePerHourMicros: number;
  /** When the provider observed the price (ms since the epoch); an update older than the held price is stale. */
  readonly observedAtMs: number;
  /** Where it came from, for people: `ec2:DescribeSpotPriceHistory`. */
  readonly source: string;
}

export interface PriceUpdateResult {
  /** How many updates replaced a price. */
  readonly applied: number;
  /** Updates refused, each with why; the last good price stays for them. */
  readonly rejected: readonly { readonly update: PriceUpdate; readonly reason: string }[];
}

/**
 * Why an update must not replace the price the book holds, or undefined when it may. `known` says whether the
 * catalog has the instance type; `held` is the live price it would replace, if any.
 */
export function checkPriceUpdate(
  update: PriceUpdate,
  known: boolean,
  held: PriceUpdate | undefined,
): string | undefined {
  const where = `${update.provider}/${update.region}/${update.instanceType}`;
  if (!known) return `rejecting a price for ${where}: the catalog has no such instance type`;
  if (update.lifecycle !== 'on-demand' && update.lifecycle !== 'spot') {
    return `rejecting a price for ${where}: unknown lifecycle ${JSON.stringify(update.lifecycle)}`;
  }
  if (!Number.isSafeInteger(update.pricePerHourMicros) || update.pricePerHourMicros <= 0) {
    return `rejecting a price for ${where}: expected a positive integer of micro-USD per hour, got ${update.pricePerHourMicros}`;
  }
  if (!Number.isFinite(update.observedAtMs)) {
    return `rejecting a price for ${where}: observedAtMs is not a time (${update.observedAtMs})`;
  }
  if (held && update.observedAtMs < held.observedAtMs) {
    return `rejecting a price for ${where}: observed at ${update.observedAtMs}, older than the held price (${held.observedAtMs})`;
  }
  return undefined;
}
