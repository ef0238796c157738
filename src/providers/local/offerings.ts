import { usdToMicros } from '../../core/money.ts';
import type { Offering } from '../../core/offering.ts';
import type { LocalProviderConfig } from '../../config/schema.ts';

/** Labels every offering (and so every agent it launches) carries. */
export const LABEL_INSTANCE_TYPE = 'spillway.io/instance-type';
export const LABEL_LIFECYCLE = 'spillway.io/lifecycle';
export const LABEL_PROVIDER = 'spillway.io/provider';
export const LABEL_ZONE = 'spillway.io/zone';
export const LABEL_GPU_MODEL = 'gpu.model';

/**
 * What a local provider offers: each configured instance type in each zone, on-demand, and spot too when it has a
 * spot price. Pure: the same config gives the same offerings.
 */
export function localOfferings(config: LocalProviderConfig, providerId: string): Offering[] {
  const offerings: Offering[] = [];
  for (const zone of config.zones) {
    for (const o of config.offerings) {
      const prices: Array<[Offering['lifecycle'], number]> = [['on-demand', o.pricePerHourUsd]];
      if (o.spotPricePerHourUsd !== undefined) prices.push(['spot', o.spotPricePerHourUsd]);
      for (const [lifecycle, priceUsd] of prices) {
        offerings.push({
          providerId,
          provider: 'local',
          region: config.region,
          zone,
          instanceType: o.instanceType,
          capacity: { cpuMillis: o.cpu, memoryMiB: o.memory, gpus: o.gpus, netMbps: o.netMbps },
          lifecycle,
          pricePerHourMicros: usdToMicros(priceUsd),
          bootMs: config.bootDelayMs,
          gpuModel: o.gpuModel ?? null,
          labels: {
            ...o.labels,
            [LABEL_INSTANCE_TYPE]: o.instanceType,
            [LABEL_LIFECYCLE]: lifecycle,
            [LABEL_PROVIDER]: providerId,
            [LABEL_ZONE]: zone,
            ...(o.gpuModel === undefined ? {} : { [LABEL_GPU_MODEL]: o.gpuModel }),
          },
          available: true,
        });
      }
    }
  }
  return offerings;
}
