/** Money is integer micro-USD everywhere inside Spillway; dollars appear only at the edges. */
export type Micros = number;

export const MICROS_PER_USD = 1_000_000;

export function usdToMicros(usd: number): Micros {
  return Math.round(usd * MICROS_PER_USD);
}

export function microsToUsd(micros: Micros): number {
  return micros / MICROS_PER_USD;
}

/** Cost of running at `pricePerHourMicros` for `durationMs`, rounded to the nearest micro-USD. */
export function costForDuration(pricePerHourMicros: Micros, durationMs: number): Micros {
  return Math.round((pricePerHourMicros * durationMs) / 3_600_000);
}

export function formatUsd(micros: Micros, digits = 2): string {
  const sign = micros < 0 ? '-' : '';
  return `${sign}$${(Math.abs(micros) / MICROS_PER_USD).toFixed(digits)}`;
}
