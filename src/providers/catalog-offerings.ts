import { ValidationError } from '../core/errors.ts';
import { usdToMicros } from '../core/money.ts';
import type { Offering } from '../core/offering.ts';
import type { Resources } from '../core/resources.ts';
import type { CatalogEntry } from '../cost-model/catalog.ts';
import {
  LABEL_GPU_MODEL,
  LABEL_INSTANCE_TYPE,
  LABEL_LIFECYCLE,
  LABEL_PROVIDER,
  LABEL_ZONE,
} from './local/offerings.ts';

/** The network capacity of a type that neither the config nor the catalog gives (Mbit/s). */
const DEFAULT_NET_MBPS = 1_000;

/** An instance type a cloud provider's config allows; capacity and on-demand price may come from the catalog. */
export interface AllowedInstanceType {
  readonly instanceType: string;
  readonly cpu?: number | undefined;
  readonly memory?: number | undefined;
  readonly gpus: number;
  readonly gpuModel?: string | undefined;
  readonly netMbps?: number | undefined;
  readonly pricePerHourUsd?: number | undefined;
  readonly spotPricePerHourUsd?: number | undefined;
  readonly labels: Readonly<Record<string, string>>;
}

/** The price catalog's entry of an instance type in the provider's region (a price book's `lookup`). */
export type CatalogLookup = (instanceType: string, zone: string) => CatalogEntry | undefined;

/** What a cloud reported of a type itself (EC2's DescribeInstanceTypes): it wins over config and catalog. */
export interface ReportedSpec {
  readonly capacity: Resources;
  readonly gpuModel: string | null;
}

/**
 * Where an allowed type's capacity or on-demand price is neither configured nor in the catalog: the config field to
 * fix (`instanceTypes.2.cpu`), or undefined when every type resolves.
 */
export function unresolvedAllowedType(
  types: readonly AllowedInstanceType[],
  zone: string,
  catalog: CatalogLookup = () => undefined,
): { field: string; instanceType: string } | undefined {
  for (const [i, type] of types.entries()) {
    const entry = catalog(type.instanceType, zone);
    for (const key of ['cpu', 'memory', 'pricePerHourUsd'] as const) {
      if (type[key] === undefined && entry === undefined)
        return { field: `instanceTypes.${i}.${key}`, instanceType: type.instanceType };
    }
  }
  return undefined;
}

/** The part of a price book a provider reads: a type's catalog entry in a region. */
export interface PriceBookReader {
  lookup(provider: string, region: string, instanceType: string, zone?: string): CatalogEntry | undefined;
}

/**
 * The catalog lookup of one provider's region, checked at construction: throws a ValidationError naming the config
 * field (`instanceTypes.2.cpu`) when an allowed type's capacity or on-demand price is neither configured nor in the
 * catalog, so `serve` stops before anything listens.
 */
export function regionCatalog(
  book: PriceBookReader | undefined,
  provider: string,
  region: string,
  types: readonly AllowedInstanceType[],
  zone: string,
): CatalogLookup {
  const catalog: CatalogLookup = (instanceType, z) => book?.lookup(provider, region, instanceType, z);
  const unresolved = unresolvedAllowedType(types, zone, catalog);
  if (unresolved) {
    throw new ValidationError(
      unresolved.field,
      `${unresolved.instanceType} in ${region} is not in the price catalog; give its cpu, memory and pricePerHourUsd`,
    );
  }
  return catalog;
}

export interface CatalogOfferingsInput {
  /** The provider kind (`aws-ec2`, `gcp-compute`). */
  readonly provider: string;
  readonly providerId: string;
  readonly region: string;
  readonly zones: Iterable<string>;
  readonly types: readonly AllowedInstanceType[];
  readonly bootMs: number;
  readonly catalog?: CatalogLookup | undefined;
  /** Capacities the cloud reported, by instance type. */
  readonly specs?: ReadonlyMap<string, ReportedSpec> | undefined;
  /** Live spot prices, by `type/zone`. */
  readonly spotPrices?: ReadonlyMap<string, number> | undefined;
}

/**
 * What a cloud provider offers: each allowed type in each zone, on-demand at its configured price (else the
 * catalog's), and spot at the live spot price of that zone when there is one, else the configured spot price, else
 * the catalog's (no spot offering without any). Capacity comes from what the cloud reported, else config, else the
 * catalog, dimension by dimension (network included: a type neither gives is taken as 1,000 Mbit/s). A type that resolves nowhere is skipped (providers refuse such config at start). Pure.
 */
export function catalogOfferings(input: CatalogOfferingsInput): Offering[] {
  const catalog = input.catalog ?? (() => undefined);
  const offerings: Offering[] = [];
  for (const zone of input.zones) {
    for (const type of input.types) {
      const spec = input.specs?.get(type.instanceType);
      const entry = catalog(type.instanceType, zone);
      const cpuMillis = type.cpu ?? (entry ? Math.round(entry.vcpus * 1000) : undefined);
      const memoryMiB = type.memory ?? entry?.memoryMiB;
      const onDemandMicros =
        type.pricePerHourUsd === undefined ? entry?.onDemand.microsPerHour : usdToMicros(type.pricePerHourUsd);
      if (cpuMillis === undefined || memoryMiB === undefined || onDemandMicros === undefined) continue;
      const capacity: Resources = spec?.capacity ?? {
        cpuMillis,
        memoryMiB,
        gpus: type.gpus || entry?.gpus || 0,
        netMbps: type.netMbps ?? entry?.netMbps ?? DEFAULT_NET_MBPS,
      };
      const gpuModel = type.gpuModel ?? spec?.gpuModel ?? entry?.gpuModel ?? null;
      const prices: Array<[Offering['lifecycle'], number]> = [['on-demand', onDemandMicros]];
      const spotMicros =
        input.spotPrices?.get(`${type.instanceType}/${zone}`) ??
        (type.spotPricePerHourUsd === undefined ? entry?.spot?.microsPerHour : usdToMicros(type.spotPricePerHourUsd));
      if (spotMicros !== undefined) prices.push(['spot', spotMicros]);
      for (const [lifecycle, pricePerHourMicros] of prices) {
        offerings.push({
          providerId: input.providerId,
          provider: input.provider,
          region: input.region,
          zone,
          instanceType: type.instanceType,
          capacity,
          lifecycle,
          pricePerHourMicros,
          bootMs: input.bootMs,
          gpuModel,
          labels: {
            ...type.labels,
            [LABEL_INSTANCE_TYPE]: type.instanceType,
            [LABEL_LIFECYCLE]: lifecycle,
            [LABEL_PROVIDER]: input.providerId,
            [LABEL_ZONE]: zone,
            ...(gpuModel === null ? {} : { [LABEL_GPU_MODEL]: gpuModel }),
          },
          available: true,
        });
      }
    }
  }
  return offerings;
}
