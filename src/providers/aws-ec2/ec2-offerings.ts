import type { Offering } from '../../core/offering.ts';
import type { AwsEc2ProviderConfig } from '../../config/schema.ts';
import { catalogOfferings, type CatalogLookup } from '../catalog-offerings.ts';
import type { Ec2PriceUpdates } from './price-refresh.ts';

export type { CatalogLookup } from '../catalog-offerings.ts';

/** The zone of each configured subnet (the first subnet of a zone is the one launches use). */
export function subnetsByZone(config: Pick<AwsEc2ProviderConfig, 'subnets'>): Map<string, string> {
  const byZone = new Map<string, string>();
  for (const subnet of config.subnets) if (!byZone.has(subnet.zone)) byZone.set(subnet.zone, subnet.id);
  return byZone;
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
  return catalogOfferings({
    provider: 'aws-ec2',
    providerId,
    region: config.region,
    zones: subnetsByZone(config).keys(),
    types: config.instanceTypes,
    bootMs: config.bootMs,
    catalog,
    specs: new Map((updates?.specs ?? []).map((s) => [s.instanceType, s])),
    spotPrices: new Map((updates?.spotPrices ?? []).map((p) => [`${p.instanceType}/${p.zone}`, p.pricePerHourMicros])),
  });
}
