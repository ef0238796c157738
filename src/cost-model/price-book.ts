import type { Offering } from '../core/offering.ts';
import {
  LABEL_GPU_MODEL,
  LABEL_INSTANCE_TYPE,
  LABEL_LIFECYCLE,
  LABEL_PROVIDER,
  LABEL_ZONE,
} from '../providers/local/offerings.ts';
import type { Catalog, CatalogEntry, CatalogPrice } from './catalog.ts';
import { checkPriceUpdate, type PriceUpdate, type PriceUpdateResult } from './price-book-updates.ts';

export type { PriceUpdate, PriceUpdateResult } from './price-book-updates.ts';

/** The CPU architecture label every price-book offering carries (`amd64`, `arm64`), like `kubernetes.io/arch`. */
export const LABEL_ARCH = 'spillway.io/arch';
export const LABEL_REGION = 'spillway.io/region';

/**
 * How long an instance takes from launch to registering, when the query does not say: a planning estimate only
 * (boot, then the agent's install and registration).
 */
export const DEFAULT_BOOT_MS: Readonly<Record<string, number>> = { 'aws-ec2': 90_000, 'gcp-compute': 75_000 };

export type OfferingLifecycle = Offering['lifecycle'];

/** Which offerings to build: one provider id, one region, its zones, optionally a subset of types. */
export interface OfferingsQuery {
  /** The CloudProvider's id, e.g. `aws-ec2:us-east-1`. */
  readonly providerId: string;
  /** The catalog provider kind: `aws-ec2` or `gcp-compute`. */
  readonly provider: string;
  readonly region: string;
  /** One offering per zone (and type and lifecycle). */
  readonly zones: readonly string[];
  /** Only these instance types; default all in the region. */
  readonly instanceTypes?: readonly string[];
  /** Only these families (exact catalog family names, `m7i`, `n2d`); default all. */
  readonly families?: readonly string[];
  /** Default both. Spot is offered only where a spot price is known. */
  readonly lifecycles?: readonly OfferingLifecycle[];
  /** Default DEFAULT_BOOT_MS for the provider. */
  readonly bootMs?: number;
  /** Extra labels every offering carries (the price book's own labels win on a clash). */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Instance types, capacity and on-demand and spot prices per provider and region: the bundled catalog, with live
 * updates applied on top.
 *
 * Contract: reads never throw for data reasons. `apply` replaces prices with newer valid ones and rejects (reports,
 * never throws) invalid or stale ones, so planning always sees the last good price of everything. Not thread-shared
 * state: one price book per controller, updated between passes.
 */
export class PriceBook {
  readonly #entries = new Map<string, CatalogEntry>();
  /** Live prices by `entryKey/lifecycle` (region-wide) or `entryKey/lifecycle/zone`. */
  readonly #live = new Map<string, PriceUpdate>();

  constructor(catalog: Catalog) {
    for (const entry of catalog.entries)
      this.#entries.set(entryKey(entry.provider, entry.region, entry.instanceType), entry);
  }

  /** How many instance types the book knows, over every provider and region. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * One instance type in one region with its current prices (live updates over the catalog; a zone's own spot price
   * when `zone` is given and known), or undefined when the catalog does not have it.
   */
  lookup(provider: string, region: string, instanceType: string, zone?: string): CatalogEntry | undefined {
    const entry = this.#entries.get(entryKey(provider, region, instanceType));
    if (!entry) return undefined;
    const onDemand = this.#price(entry, 'on-demand', zone);
    const spot = this.#price(entry, 'spot', zone);
    return onDemand === entry.onDemand && spot === entry.spot ? entry : { ...entry, onDemand: onDemand!, spot };
  }

  /** Regions the book has prices for, per provider kind, sorted. */
  regions(provider: string): string[] {
    const regions = new Set<string>();
    for (const e of this.#entries.values()) if (e.provider === provider) regions.add(e.region);
    return [...regions].sort();
  }

  /**
   * The offerings of one provider and region: each matching type in each zone, on-demand and, where a spot price is
   * known, spot. Sorted by zone, instance type and lifecycle. An unknown provider or region gives an empty list.
   */
  offerings(query: OfferingsQuery): Offering[] {
    const lifecycles = query.lifecycles ?? ['on-demand', 'spot'];
    const types = query.instanceTypes ? new Set(query.instanceTypes) : undefined;
    const families = query.families ? new Set(query.families) : undefined;
    const entries = [...this.#entries.values()]
      .filter(
        (e) =>
          e.provider === query.provider &&
          e.region === query.region &&
          (!types || types.has(e.instanceType)) &&
          (!families || families.has(e.family)),
      )
      .sort((a, b) => (a.instanceType < b.instanceType ? -1 : a.instanceType > b.instanceType ? 1 : 0));
    const bootMs = query.bootMs ?? DEFAULT_BOOT_MS[query.provider] ?? 90_000;
    const offerings: Offering[] = [];
    for (const zone of [...query.zones].sort()) {
      for (const entry of entries) {
        for (const lifecycle of lifecycles) {
          const price = this.#price(entry, lifecycle, zone);
          if (!price) continue;
          offerings.push(toOffering(entry, query, zone, lifecycle, price.microsPerHour, bootMs));
        }
      }
    }
    return offerings;
  }

  /**
   * Applies live prices (spot prices from the providers' APIs, refreshed on-demand prices). A valid update newer than
   * what the book holds replaces it; an invalid one (unknown type, a price that is not a positive integer, a time
   * older than the current price's) is rejected and reported, and the last good price stays. Never throws.
   */
  apply(updates: readonly PriceUpdate[]): PriceUpdateResult {
    let applied = 0;
    const rejected: PriceUpdateResult['rejected'][number][] = [];
    for (const update of updates) {
      const entry = this.#entries.get(entryKey(update.provider, update.region, update.instanceType));
      const key = entry ? liveKey(entry, update.lifecycle, update.zone) : '';
      const problem = checkPriceUpdate(update, entry !== undefined, this.#live.get(key));
      if (problem) {
        rejected.push({ update, reason: problem });
        continue;
      }
      this.#live.set(key, update);
      applied++;
    }
    return { applied, rejected };
  }

  /** The current price of one lifecycle: the zone's live price, else the region's live price, else the catalog's. */
  #price(entry: CatalogEntry, lifecycle: OfferingLifecycle, zone: string | undefined): CatalogPrice | null {
    const live =
      (zone === undefined ? undefined : this.#live.get(liveKey(entry, lifecycle, zone))) ??
      this.#live.get(liveKey(entry, lifecycle));
    const base = lifecycle === 'spot' ? entry.spot : entry.onDemand;
    if (!live) return base;
    return {
      microsPerHour: live.pricePerHourMicros,
      source: live.source,
      date: new Date(live.observedAtMs).toISOString(),
      quality: lifecycle === 'spot' ? 'snapshot' : 'clean',
    };
  }
}

function entryKey(provider: string, region: string, instanceType: string): string {
  return `${provider}/${region}/${instanceType}`;
}

function liveKey(entry: CatalogEntry, lifecycle: OfferingLifecycle, zone?: string): string {
  return `${entryKey(entry.provider, entry.region, entry.instanceType)}/${lifecycle}${zone === undefined ? '' : `/${zone}`}`;
}

function toOffering(
  entry: CatalogEntry,
  query: OfferingsQuery,
  zone: string,
  lifecycle: OfferingLifecycle,
  pricePerHourMicros: number,
  bootMs: number,
): Offering {
  return {
    providerId: query.providerId,
    provider: entry.provider,
    region: entry.region,
    zone,
    instanceType: entry.instanceType,
    capacity: {
      cpuMillis: Math.round(entry.vcpus * 1000),
      memoryMiB: entry.memoryMiB,
      gpus: entry.gpus,
      // Unknown bandwidth is planned as none: a task that asks for bandwidth never lands where it is not known.
      netMbps: entry.netMbps ?? 0,
    },
    lifecycle,
    pricePerHourMicros,
    bootMs,
    gpuModel: entry.gpuModel,
    labels: {
      ...query.labels,
      [LABEL_INSTANCE_TYPE]: entry.instanceType,
      [LABEL_LIFECYCLE]: lifecycle,
      [LABEL_PROVIDER]: query.providerId,
      [LABEL_ZONE]: zone,
      [LABEL_REGION]: entry.region,
      [LABEL_ARCH]: entry.arch,
      ...(entry.gpuModel === null ? {} : { [LABEL_GPU_MODEL]: entry.gpuModel }),
    },
    available: true,
  };
}
