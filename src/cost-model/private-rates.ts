import { usdToMicros } from '../core/money.ts';
import type { Resources } from '../core/resources.ts';

/**
 * What private capacity costs, amortized: hardware over its life, power, space and operations, per resource-hour.
 * The operator sets them from their own costs (config `privateRates`); the defaults are a placeholder of roughly half
 * the clouds' on-demand list prices per resource, which is where owned hardware typically lands.
 */
export interface PrivateRates {
  /** USD per CPU (1000 millicores) per hour. */
  readonly usdPerCpuHour: number;
  /** USD per GiB of memory per hour. */
  readonly usdPerGiBHour: number;
  /** USD per GPU per hour. */
  readonly usdPerGpuHour: number;
}

export const DEFAULT_PRIVATE_RATES: PrivateRates = Object.freeze({
  usdPerCpuHour: 0.02,
  usdPerGiBHour: 0.0025,
  usdPerGpuHour: 0.8,
});

/**
 * The amortized price of private capacity in integer micro-USD per hour: each resource times its rate, summed, then
 * rounded once. Network bandwidth is not charged separately. Pure.
 */
export function privatePricePerHourMicros(capacity: Resources, rates: PrivateRates = DEFAULT_PRIVATE_RATES): number {
  const usd =
    (capacity.cpuMillis / 1000) * rates.usdPerCpuHour +
    (capacity.memoryMiB / 1024) * rates.usdPerGiBHour +
    capacity.gpus * rates.usdPerGpuHour;
  return usdToMicros(usd);
}
