import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';

/** The provider kinds the catalog covers, named as Spillway's providers are (`Offering.provider`). */
export const CatalogProvider = { aws: 'aws-ec2', gce: 'gcp-compute' } as const;
export type CatalogProvider = (typeof CatalogProvider)[keyof typeof CatalogProvider];

/**
 * How far a price can be trusted: `clean` comes from the provider's own price list at the stated date, `approx` from
 * a third-party dump that may be older, `suspect` from a method that disagreed with a clean source elsewhere, and
 * `snapshot` is a spot price observed once (spot prices move hourly).
 */
export const PriceQuality = { clean: 'clean', approx: 'approx', suspect: 'suspect', snapshot: 'snapshot' } as const;
export type PriceQuality = (typeof PriceQuality)[keyof typeof PriceQuality];

/** One price and where it came from. */
export interface CatalogPrice {
  /** Integer micro-USD per hour. */
  readonly microsPerHour: number;
  readonly source: string;
  /** When the source observed the price: a date (`2026-07-20`) or a range (`2023-02-20..2024-08-09`). */
  readonly date: string;
  readonly quality: PriceQuality;
}

/** One instance type in one region. */
export interface CatalogEntry {
  readonly provider: CatalogProvider;
  readonly region: string;
  readonly instanceType: string;
  /** The type's family (`m7i`, `n2`); the policy's `instanceFamilies` are prefixes of the instance type instead. */
  readonly family: string;
  /** May be fractional (GCE shared-core types: `e2-micro` has 0.25). */
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** May be fractional (GCE `g4-standard-6` has an eighth of an RTX PRO 6000). */
  readonly gpus: number;
  /** Normalised (see `core/gpu-model.ts`); null without GPUs. */
  readonly gpuModel: string | null;
  readonly gpuMemoryMiB: number | null;
  /** Network bandwidth in Mbps; null where the data does not say. */
  readonly netMbps: number | null;
  /** Where `netMbps` comes from; null when it is null. */
  readonly netSource: string | null;
  readonly arch: 'amd64' | 'arm64';
  readonly onDemand: CatalogPrice;
  /** Null where the data has no spot price. */
  readonly spot: CatalogPrice | null;
}

/** The bundled catalog: entries sorted by provider, region and instance type. */
export interface Catalog {
  readonly format: 1;
  /** The files it was built from, relative to `data/`. */
  readonly sources: readonly string[];
  readonly entries: readonly CatalogEntry[];
}

/** The catalog bundled with the project (`data/catalog.json`). */
export const BUNDLED_CATALOG_PATH = fileURLToPath(new URL('../../data/catalog.json', import.meta.url));

const priceSchema = z
  .object({
    microsPerHour: z.number().int().positive(),
    source: z.string(),
    date: z.string(),
    quality: z.enum(['clean', 'approx', 'suspect', 'snapshot']),
  })
  .strict();

const entrySchema = z
  .object({
    provider: z.enum(['aws-ec2', 'gcp-compute']),
    region: z.string().min(1),
    instanceType: z.string().min(1),
    family: z.string().min(1),
    vcpus: z.number().positive(),
    memoryMiB: z.number().int().positive(),
    gpus: z.number().nonnegative(),
    gpuModel: z.string().min(1).nullable(),
    gpuMemoryMiB: z.number().int().positive().nullable(),
    netMbps: z.number().int().positive().nullable(),
    netSource: z.string().nullable(),
    arch: z.enum(['amd64', 'arm64']),
    onDemand: priceSchema,
    spot: priceSchema.nullable(),
  })
  .strict();

const catalogSchema = z
  .object({ format: z.literal(1), sources: z.array(z.string()), entries: z.array(entrySchema) })
  .strict() satisfies z.ZodType<Catalog>;

/** Validates parsed JSON as a catalog. Throws a ValidationError naming the first bad field. */
export function parseCatalog(json: unknown, source = 'catalog'): Catalog {
  const result = catalogSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ValidationError(`${source}:${issue.path.join('.')}`, issue.message);
  }
  return result.data;
}

/** Reads and validates a catalog file (default: the bundled one). Throws a ValidationError for a bad file. */
export function loadCatalog(path: string = BUNDLED_CATALOG_PATH): Catalog {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ValidationError(path, `reading the price catalog: ${(err as Error).message}`);
  }
  return parseCatalog(json, path);
}

/**
 * The catalog as text, deterministically: one entry per line, entries sorted by provider, region and instance type,
 * keys in a fixed order. Rebuilding from the same CSVs gives the same bytes.
 */
export function serializeCatalog(catalog: Catalog): string {
  const entries = [...catalog.entries].sort(compareEntries).map((e) => `    ${JSON.stringify(canonicalEntry(e))}`);
  return (
    `{\n  "format": ${catalog.format},\n  "sources": ${JSON.stringify(catalog.sources)},\n` +
    `  "entries": [\n${entries.join(',\n')}\n  ]\n}\n`
  );
}

export function compareEntries(a: CatalogEntry, b: CatalogEntry): number {
  return cmp(a.provider, b.provider) || cmp(a.region, b.region) || cmp(a.instanceType, b.instanceType);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function canonicalEntry(e: CatalogEntry): CatalogEntry {
  const price = (p: CatalogPrice): CatalogPrice => ({
    microsPerHour: p.microsPerHour,
    source: p.source,
    date: p.date,
    quality: p.quality,
  });
  return {
    provider: e.provider,
    region: e.region,
    instanceType: e.instanceType,
    family: e.family,
    vcpus: e.vcpus,
    memoryMiB: e.memoryMiB,
    gpus: e.gpus,
    gpuModel: e.gpuModel,
    gpuMemoryMiB: e.gpuMemoryMiB,
    netMbps: e.netMbps,
    netSource: e.netSource,
    arch: e.arch,
    onDemand: price(e.onDemand),
    spot: e.spot ? price(e.spot) : null,
  };
}
