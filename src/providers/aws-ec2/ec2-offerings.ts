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

/** The zone of each configured subnet (the first subnet of a zone is the one launches use). */
export function subnetsByZone(config: Pick<AwsEc2ProviderConfig, 'subnets'>): Map<string, string> {
  const byZone = new Map<string, string>();
  for (const subnet of config.subnets) if (!byZone.has(subnet.zone)) byZone.set(subnet.zone, subnet.id);
  return byZone;
}

/**
 * What an EC2 provider offers: each allowed instance type in each subnet's zone, on-demand at its configured price,
 * and spot at the latest spot price EC2 reported for that zone (the configured spot price until a refresh has one).
 * A refresh may also correct a type's capacity. Pure: the same config and updates give the same offerings.
 */
export function ec2Offerings(
  config: AwsEc2ProviderConfig,
  providerId: string,
  updates: Ec2PriceUpdates | undefined,
): Offering[] {
  const specs = new Map((updates?.specs ?? []).map((s) => [s.instanceType, s]));
  const spot = new Map((updates?.spotPrices ?? []).map((p) => [`${p.instanceType}/${p.zone}`, p.pricePerHourMicros]));
  const offerings: Offering[] = [];
  for (const zone of subnetsByZone(config).keys()) {
    for (const type of config.instanceTypes) {
      const spec = specs.get(type.instanceType);
      const capacity: Resources = spec?.capacity ?? {
        cpuMillis: type.cpu,
        memoryMiB: type.memory,
        gpus: type.gpus,
        netMbps: type.netMbps,
      };
      const gpuModel = type.gpuModel ?? spec?.gpuModel ?? null;
      const prices: Array<[Offering['lifecycle'], number]> = [['on-demand', usdToMicros(type.pricePerHourUsd)]];
      const spotMicros =
        spot.get(`${type.instanceType}/${zone}`) ??
        (type.spotPricePerHourUsd === undefined ? undefined : usdToMicros(type.spotPricePerHourUsd));
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
