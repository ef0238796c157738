import type { _InstanceType, InstanceTypeInfo, SpotPrice } from '@aws-sdk/client-ec2';
import { usdToMicros } from '../../core/money.ts';
import type { Resources } from '../../core/resources.ts';
import type { Ec2Api } from './ec2-api.ts';
import { ec2ErrorFacts } from './ec2-errors.ts';
import { instanceIdsIn } from './ec2-instances.ts';
import type { Ec2RateLimiter } from './ec2-rate-limits.ts';

/** An instance type's capacity as EC2 describes it (DescribeInstanceTypes). */
export interface Ec2InstanceTypeSpec {
  readonly instanceType: string;
  readonly capacity: Resources;
  /** The first GPU's name (`A10G`, `T4`), or null. */
  readonly gpuModel: string | null;
}

/** The spot price in effect for a type in one zone (DescribeSpotPriceHistory, Linux/UNIX). */
export interface Ec2SpotPrice {
  readonly instanceType: string;
  readonly zone: string;
  readonly pricePerHourMicros: number;
  /** When EC2 set this price. */
  readonly observedAtMs: number;
}

/**
 * One refresh of EC2's live data for a region: plain values for a price book to apply. EC2 has no on-demand price
 * API (that is the separate Price List API), so on-demand prices are not part of it.
 */
export interface Ec2PriceUpdates {
  readonly provider: 'aws-ec2';
  readonly region: string;
  readonly refreshedAtMs: number;
  readonly specs: readonly Ec2InstanceTypeSpec[];
  readonly spotPrices: readonly Ec2SpotPrice[];
  /** Configured types the region does not know (InvalidInstanceType): left out of this refresh, the rest refreshed. */
  readonly unknownTypes: readonly string[];
}

export interface PriceRefreshOptions {
  readonly api: Ec2Api;
  readonly limiter: Ec2RateLimiter;
  readonly region: string;
  readonly instanceTypes: readonly string[];
  readonly zones: readonly string[];
  readonly nowMs: number;
  readonly signal?: AbortSignal;
}

/** A failed call of a refresh, naming the EC2 action (for the permission an AuthError asks for). */
export class PriceRefreshCallError extends Error {
  override readonly name = 'PriceRefreshCallError';
  readonly action: string;

  constructor(action: string, cause: unknown) {
    super(`${action} failed`, { cause });
    this.action = action;
  }
}

/** Runs one EC2 call of a refresh; its failure comes back as a PriceRefreshCallError with the SDK's error as cause. */
async function call<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new PriceRefreshCallError(action, err);
  }
}

/** DescribeInstanceTypes takes at most 100 names per call. */
const TYPES_PER_CALL = 100;
const SPOT_PAGE_SIZE = 1_000;

/**
 * Reads the allowed types' specs and their current spot prices in `zones`, following every page. Each call waits
 * for the Describe bucket. Throws a PriceRefreshCallError whose cause is what the SDK threw (the adapter translates
 * it); nothing is kept between calls.
 */
export async function fetchEc2PriceUpdates(opts: PriceRefreshOptions): Promise<Ec2PriceUpdates> {
  const { api, limiter, signal } = opts;
  const specs: Ec2InstanceTypeSpec[] = [];
  const unknownTypes: string[] = [];
  for (let i = 0; i < opts.instanceTypes.length; i += TYPES_PER_CALL) {
    const found = await describeTypes(opts, opts.instanceTypes.slice(i, i + TYPES_PER_CALL));
    specs.push(...found.specs);
    unknownTypes.push(...found.unknown);
  }
  const knownTypes = opts.instanceTypes.filter((t) => !unknownTypes.includes(t));

  const latest = new Map<string, Ec2SpotPrice>();
  if (knownTypes.length > 0 && opts.zones.length > 0) {
    // A start and end time of now return, per type and zone, the price in effect now.
    const now = new Date(opts.nowMs);
    let nextToken: string | undefined;
    do {
      await limiter.describe(signal);
      const token = nextToken;
      const page = await call('DescribeSpotPriceHistory', () =>
        api.describeSpotPriceHistory(
          {
            InstanceTypes: knownTypes as _InstanceType[],
            ProductDescriptions: ['Linux/UNIX'],
            Filters: [{ Name: 'availability-zone', Values: [...opts.zones] }],
            StartTime: now,
            EndTime: now,
            MaxResults: SPOT_PAGE_SIZE,
            ...(token ? { NextToken: token } : {}),
          },
          { signal },
        ),
      );
      for (const entry of page.SpotPriceHistory ?? []) {
        const price = toSpotPrice(entry);
        if (!price) continue;
        const key = `${price.instanceType}/${price.zone}`;
        const seen = latest.get(key);
        if (!seen || seen.observedAtMs < price.observedAtMs) latest.set(key, price);
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
  }
  return {
    provider: 'aws-ec2',
    region: opts.region,
    refreshedAtMs: opts.nowMs,
    specs: specs.sort((a, b) => a.instanceType.localeCompare(b.instanceType)),
    spotPrices: [...latest.values()].sort(
      (a, b) => a.instanceType.localeCompare(b.instanceType) || a.zone.localeCompare(b.zone),
    ),
    unknownTypes: unknownTypes.sort(),
  };
}

/**
 * The specs of `names` (at most one call's worth), following every page. EC2 fails the whole call when one name is
 * not a type it knows in the region (`InvalidInstanceType`, naming them): those are set apart and the call is made
 * again without them, so one bad type never keeps the others from refreshing. When the answer names none of them,
 * each type is asked for alone.
 */
async function describeTypes(
  opts: PriceRefreshOptions,
  names: readonly string[],
): Promise<{ specs: Ec2InstanceTypeSpec[]; unknown: string[] }> {
  const { api, limiter, signal } = opts;
  const specs: Ec2InstanceTypeSpec[] = [];
  let nextToken: string | undefined;
  try {
    do {
      await limiter.describe(signal);
      const token = nextToken;
      const page = await call('DescribeInstanceTypes', () =>
        api.describeInstanceTypes(
          { InstanceTypes: names as _InstanceType[], ...(token ? { NextToken: token } : {}) },
          { signal },
        ),
      );
      for (const info of page.InstanceTypes ?? []) {
        const spec = toSpec(info);
        if (spec) specs.push(spec);
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return { specs, unknown: [] };
  } catch (err) {
    const facts = err instanceof PriceRefreshCallError ? ec2ErrorFacts(err.cause) : undefined;
    if (signal?.aborted || facts?.code !== 'InvalidInstanceType') throw err;
    const named = instanceIdsIn(facts.message, names);
    if (named.length === 0 && names.length === 1) return { specs: [], unknown: [...names] };
    const parts = named.length > 0 ? [names.filter((n) => !named.includes(n))] : names.map((n) => [n]);
    const result = { specs: [] as Ec2InstanceTypeSpec[], unknown: [...named] };
    for (const part of parts) {
      if (part.length === 0) continue;
      const found = await describeTypes(opts, part);
      result.specs.push(...found.specs);
      result.unknown.push(...found.unknown);
    }
    return result;
  }
}

function toSpec(info: InstanceTypeInfo): Ec2InstanceTypeSpec | undefined {
  const vcpus = info.VCpuInfo?.DefaultVCpus;
  const memoryMiB = info.MemoryInfo?.SizeInMiB;
  if (!info.InstanceType || vcpus === undefined || memoryMiB === undefined) return undefined;
  const gpus = (info.GpuInfo?.Gpus ?? []).reduce((sum, g) => sum + (g.Count ?? 0), 0);
  return {
    instanceType: info.InstanceType,
    capacity: {
      cpuMillis: vcpus * 1000,
      memoryMiB,
      gpus,
      netMbps: networkMbps(info.NetworkInfo?.NetworkPerformance),
    },
    gpuModel: info.GpuInfo?.Gpus?.[0]?.Name ?? null,
  };
}

function toSpotPrice(entry: SpotPrice): Ec2SpotPrice | undefined {
  const usd = Number(entry.SpotPrice);
  if (!entry.InstanceType || !entry.AvailabilityZone || !Number.isFinite(usd)) return undefined;
  return {
    instanceType: entry.InstanceType,
    zone: entry.AvailabilityZone,
    pricePerHourMicros: usdToMicros(usd),
    observedAtMs: entry.Timestamp?.getTime() ?? 0,
  };
}

/** EC2's words for the slowest network classes, in Mbit/s (conservative readings). */
const NAMED_PERFORMANCE: Readonly<Record<string, number>> = {
  'very low': 50,
  low: 100,
  'low to moderate': 300,
  moderate: 500,
  high: 1_000,
};

/** `Up to 12.5 Gigabit` -> 12500, `25 Gigabit` -> 25000, `Moderate` -> 500; unknown text -> 0. */
export function networkMbps(performance: string | undefined): number {
  if (!performance) return 0;
  const text = performance.trim().toLowerCase();
  const match = /([\d.]+)\s*(gigabit|megabit)/.exec(text);
  if (match) return Math.round(Number(match[1]) * (match[2] === 'gigabit' ? 1_000 : 1));
  return NAMED_PERFORMANCE[text] ?? 0;
}
