import { usdToMicros } from '../../core/money.ts';
import type { Offering } from '../../core/offering.ts';
import type { Resources } from '../../core/resources.ts';
import type { AwsEc2ProviderConfig } from '../../config/schema.ts';
import {
  LABEL_GPU_MODEL,
  LABEL_INSTANCE_TYPE,
  LABEL_LIFECYCLE,
  LABEL_PROVIDER,
  LABEL_ZONE,
} from '../local/offerings.ts';
import type { Ec2PriceUpdates } from './price-refresh.ts';
import type { CatalogEntry } from '../../cost-model/catalog.ts';

/** The zone of each configured subnet (the first subnet of a zone is the one launches use). */
export function subnetsByZone(config: Pick<AwsEc2ProviderConfig, 'subnets'>): Map<string, string> {
  const byZone = new Map<string, string>();
  for (const subnet of config.subnets) if (!byZone.has(subnet.zone)) byZone.set(subnet.zone, subnet.id);
  return byZone;
}

/** The price catalog's entry of an instance type in the provider's region (a price book's `lookup`). */
export type CatalogLookup = (instanceType: string, zone: string) => CatalogEntry | undefined;

/**
 * Where an allowed type's capacity or on-demand price is neither configured nor in the catalog: the config field to
 * fix, or undefined when every type resolves.
 */
export function unresolvedInstanceType(
  config: AwsEc2ProviderConfig,
  catalog: CatalogLookup = () => undefined,
): { field: string; instanceType: string } | undefined {
  const zone = subnetsByZone(config).keys().next().value ?? '';
  for (const [i, type] of config.instanceTypes.entries()) {
    const entry = catalog(type.instanceType, zone);
    for (const key of ['cpu', 'memory', 'pricePerHourUsd'] as const) {
      if (type[key] === undefined && entry === undefined) return { field: `instanceTypes.${i}.${key}`, instanceType: type.instanceType };
    }
  }
  return undefined;
}

/**
 * What an EC2 provider offers: each allowed instance type in each subnet's zone, on-demand at its configured price
 * (else the catalog's), and spot at the latest spot price EC2 reported for that zone (until a refresh has one, the
 * configured spot price, else the catalog's). Capacity comes from config, else from the catalog.
 * A refresh may also correct a type's capacity. Pure: the same config and updates give the same offerings.
 */
export function ec2Offerings(
  config: AwsEc2ProviderConfig,
  providerId: string,
  updates: Ec2PriceUpdates | undefined,
  catalog: CatalogLookup = () => undefined,
): Offering[] {
  const specs = new Map((updates?.specs ?? []).map((s) => [s.instanceType, s]));
  const spot = new Map((updates?.spotPrices ?? []).map((p) => [`${p.instanceType}/${p.zone}`, p.pricePerHourMicros]));
  const offerings: Offering[] = [];
  for (const zone of subnetsByZone(config).keys()) {
    for (const type of config.instanceTypes) {
      const spec = specs.get(type.instanceType);
      const entry = catalog(type.instanceType, zone);
      const cpuMillis = type.cpu ?? (entry ? Math.round(entry.vcpus * 1000) : undefined);
      const memoryMiB = type.memory ?? entry?.memoryMiB;
      const onDemandMicros =
        type.pricePerHourUsd === undefined ? entry?.onDemand.microsPerHour : usdToMicros(type.pricePerHourUsd);
      // The provider refuses such a type when it starts (unresolvedInstanceType); nothing to offer here.
      if (cpuMillis === undefined || memoryMiB === undefined || onDemandMicros === undefined) continue;
      const capacity: Resources = spec?.capacity ?? {
        cpuMillis,
        memoryMiB,
        gpus: type.gpus || entry?.gpus || 0,
        netMbps: type.netMbps,
      };
      const gpuModel = type.gpuModel ?? spec?.gpuModel ?? entry?.gpuModel ?? null;
      const prices: Array<[Offering['lifecycle'], number]> = [['on-demand', onDemandMicros]];
      const spotMicros =
        spot.get(`${type.instanceType}/${zone}`) ??
        (type.spotPricePerHourUsd === undefined ? entry?.spot?.microsPerHour : usdToMicros(type.spotPricePerHourUsd));
      if (spotMicros !== undefined) prices.push(['spot', spotMicros]);
      for (const [lifecycle, pricePerHourMicros] of prices) {
        offerings.push({
          providerId,
          provider: 'aws-ec2',
          region: config.region,
          zone,
          instanceType: type.instanceType,
          capacity,
          lifecycle,
          pricePerHourMicros,
          bootMs: config.bootMs,
          gpuModel,
          labels: {
            ...type.labels,
            [LABEL_INSTANCE_TYPE]: type.instanceType,
            [LABEL_LIFECYCLE]: lifecycle,
            [LABEL_PROVIDER]: providerId,
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
