import type { Micros } from '../core/money.ts';

/**
 * How a provider turns an instance's running time into a bill. Time is billed in whole increments of
 * `incrementSeconds` (a started increment counts whole), and never less than `minimumSeconds` once the instance ran at
 * all.
 */
export interface BillingRule {
  readonly incrementSeconds: number;
  readonly minimumSeconds: number;
}

/** AWS EC2 and Google Compute Engine Linux instances: per second, with a 60 second minimum. */
export const PER_SECOND_60S_MINIMUM: BillingRule = Object.freeze({ incrementSeconds: 1, minimumSeconds: 60 });

/** Private capacity at its amortized rate: per second, no minimum (the machine is paid for either way). */
export const PER_SECOND_NO_MINIMUM: BillingRule = Object.freeze({ incrementSeconds: 1, minimumSeconds: 0 });

const RULES: Readonly<Record<string, BillingRule>> = {
  'aws-ec2': PER_SECOND_60S_MINIMUM,
  'gcp-compute': PER_SECOND_60S_MINIMUM,
  // The local provider bills like the clouds it stands in for, so the demo and the tests see minimum bills.
  local: PER_SECOND_60S_MINIMUM,
  private: PER_SECOND_NO_MINIMUM,
};

/**
 * The billing rule of a provider kind (`aws-ec2`, `gcp-compute`, `local`) or of `private` capacity. An unknown kind
 * gets the cloud rule (per second, 60 s minimum): overstating a bill is safer for a budget than understating it.
 */
export function billingRuleFor(providerKind: string): BillingRule {
  return RULES[providerKind] ?? PER_SECOND_60S_MINIMUM;
}

/** Whole seconds billed for `durationMs` of running time under `rule`, before the minimum. */
export function billedSecondsOf(rule: BillingRule, durationMs: number): number {
  if (durationMs <= 0) return 0;
  const increments = Math.ceil(durationMs / (rule.incrementSeconds * 1000));
  return increments * rule.incrementSeconds;
}

/**
 * What `seconds` cost at `pricePerHourMicros`, in integer micro-USD.
 *
 * Rounding rule: the exact amount `pricePerHourMicros * seconds / 3600` is rounded to the nearest micro-USD, halves
 * up. It is computed in integers (price split into whole micro-USD per second and a remainder), so it is exact for any
 * price and duration a cloud bill can hold.
 */
export function microsForSeconds(pricePerHourMicros: Micros, seconds: number): Micros {
  if (seconds <= 0 || pricePerHourMicros <= 0) return 0;
  const perSecond = Math.floor(pricePerHourMicros / 3600);
  const remainder = pricePerHourMicros - perSecond * 3600;
  const spill = remainder * seconds;
  const whole = Math.floor(spill / 3600);
  const rest = spill - whole * 3600;
  return perSecond * seconds + whole + (rest * 2 >= 3600 ? 1 : 0);
}

/**
 * The bill of an instance that ran from `startMs` to `endMs` at `pricePerHourMicros`: its running time in whole
 * increments, at least the rule's minimum, priced by `microsForSeconds`. An instance stopped the instant it started
 * still pays the minimum; `endMs` before `startMs` is treated as the same instant.
 */
export function billedMicros(rule: BillingRule, pricePerHourMicros: Micros, startMs: number, endMs: number): Micros {
  const seconds = Math.max(rule.minimumSeconds, billedSecondsOf(rule, endMs - startMs));
  return microsForSeconds(pricePerHourMicros, seconds);
}

/**
 * The running-time part of a bill through `durationMs` of life, without the minimum: what attribution splits second
 * by second. It never decreases as `durationMs` grows, and `billedMicros` is never below it.
 */
export function runningMicros(rule: BillingRule, pricePerHourMicros: Micros, durationMs: number): Micros {
  return microsForSeconds(pricePerHourMicros, billedSecondsOf(rule, durationMs));
}
