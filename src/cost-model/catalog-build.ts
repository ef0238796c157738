import { ValidationError } from '../core/errors.ts';
import { normalizeGpuModel } from '../core/gpu-model.ts';
import { usdToMicros } from '../core/money.ts';
import { compareEntries, type Catalog, type CatalogEntry, type CatalogPrice, type PriceQuality } from './catalog.ts';
import { parseCsv, type CsvRecord } from './catalog-csv.ts';

/** The price files the catalog is built from, relative to `data/`. */
export const CATALOG_SOURCES = {
  awsPrices: 'prices/aws_ec2_prices_3regions.csv',
  awsSpecs: 'prices/aws_instance_specs_karpenter.csv',
  gcePrices: 'prices/gcp_gce_prices_3regions.csv',
} as const;

/** The text of each file in CATALOG_SOURCES. */
export type CatalogSourceTexts = { readonly [K in keyof typeof CATALOG_SOURCES]: string };

const AWS_NET_SOURCE = 'karpenter instance-types.md (DescribeInstanceTypes network bandwidth)';
const GCE_PRICE_QUALITY: PriceQuality = 'clean';

/**
 * GCE's documented default per-VM egress cap: 2 Gbps per vCPU up to a cap per series. Only the series whose rule
 * and cap Google documents plainly are listed; the others get null (unknown) bandwidth.
 */
const GCE_NET_CAP_MBPS: Readonly<Record<string, number>> = {
  e2: 16_000,
  n1: 32_000,
  n2: 32_000,
  n2d: 32_000,
  c2: 32_000,
  c2d: 32_000,
  t2d: 32_000,
  t2a: 32_000,
};
/** Shared-core types get 1 Gbps. */
const GCE_SHARED_CORE = new Set(['e2-micro', 'e2-small', 'f1-micro', 'g1-small']);
const GCE_ARM_FAMILIES = new Set(['c4a', 'n4a', 't2a']);

/**
 * Builds the catalog from the price files (pure: the same texts give the same catalog). Every row of the AWS and GCE
 * price files becomes one entry; AWS rows take GPU memory, family and network bandwidth from the Karpenter specs.
 * Throws a ValidationError naming the file and row when a number does not parse or a type has no spec.
 */
export function buildCatalog(texts: CatalogSourceTexts): Catalog {
  const specs = new Map<string, CsvRecord>();
  for (const spec of parseCsv(texts.awsSpecs, CATALOG_SOURCES.awsSpecs)) specs.set(spec['instance_type']!, spec);
  const entries: CatalogEntry[] = [];
  for (const [i, row] of parseCsv(texts.awsPrices, CATALOG_SOURCES.awsPrices).entries()) {
    entries.push(awsEntry(row, specs, `${CATALOG_SOURCES.awsPrices}:${i + 2}`));
  }
  for (const [i, row] of parseCsv(texts.gcePrices, CATALOG_SOURCES.gcePrices).entries()) {
    entries.push(gceEntry(row, `${CATALOG_SOURCES.gcePrices}:${i + 2}`));
  }
  return { format: 1, sources: Object.values(CATALOG_SOURCES), entries: entries.sort(compareEntries) };
}

function awsEntry(row: CsvRecord, specs: ReadonlyMap<string, CsvRecord>, where: string): CatalogEntry {
  const instanceType = text(row, 'instance_type', where);
  const spec = specs.get(instanceType);
  if (!spec) throw new ValidationError(where, `no spec for ${instanceType} in ${CATALOG_SOURCES.awsSpecs}`);
  const gpus = num(row, 'gpu_count', where);
  const gpuMemoryMiB = optionalNum(spec, 'gpu_memory_mib', where);
  const model = row['gpu_model'] ?? '';
  const net = optionalNum(spec, 'network_bandwidth_mbps', where);
  return {
    provider: 'aws-ec2',
    region: text(row, 'region', where),
    instanceType,
    family: text(spec, 'family', where),
    vcpus: num(row, 'vcpu', where),
    memoryMiB: Math.round(num(row, 'memory_gib', where) * 1024),
    gpus,
    gpuModel: gpus > 0 && model ? awsGpuModel(model, gpuMemoryMiB) : null,
    gpuMemoryMiB: gpus > 0 ? gpuMemoryMiB : null,
    netMbps: net,
    netSource: net === null ? null : AWS_NET_SOURCE,
    arch: arch(text(row, 'arch', where), where),
    onDemand: price(row, 'on_demand_usd_hour', where, {
      source: text(row, 'on_demand_source', where),
      date: text(row, 'on_demand_date', where),
      quality: quality(text(row, 'on_demand_quality', where), where),
    }),
    spot: row['spot_usd_hour']
      ? price(row, 'spot_usd_hour', where, {
          source: text(row, 'spot_source', where),
          date: text(row, 'spot_date', where),
          quality: 'snapshot',
        })
      : null,
  };
}

/** `a100` with 40960 MiB per GPU -> `A100-40GB`, in the style of GCE's accelerator names. */
function awsGpuModel(model: string, gpuMemoryMiB: number | null): string {
  const base = normalizeGpuModel(model);
  return gpuMemoryMiB === null ? base : `${base}-${Math.round(gpuMemoryMiB / 1024)}GB`;
}

function gceEntry(row: CsvRecord, where: string): CatalogEntry {
  const instanceType = text(row, 'instance_type', where);
  const family = instanceType.split('-')[0]!;
  const vcpus = num(row, 'vcpu', where);
  const gpus = num(row, 'gpu_count', where);
  const model = row['gpu_model'] ?? '';
  const gpuModel = gpus > 0 && model ? normalizeGpuModel(model) : null;
  const memoryGb = gpuModel ? /-(\d+)GB\b/.exec(gpuModel)?.[1] : undefined;
  const netMbps = gceNetMbps(instanceType, family, vcpus);
  const source = text(row, 'source', where);
  const date = text(row, 'price_date', where);
  return {
    provider: 'gcp-compute',
    region: text(row, 'region', where),
    instanceType,
    family,
    vcpus,
    memoryMiB: Math.round(num(row, 'memory_gib', where) * 1024),
    gpus,
    gpuModel,
    gpuMemoryMiB: memoryGb === undefined ? null : Number(memoryGb) * 1024,
    netMbps,
    netSource: netMbps === null ? null : 'derived: GCE default egress, 2 Gbps per vCPU up to the series cap',
    arch: GCE_ARM_FAMILIES.has(family) ? 'arm64' : 'amd64',
    onDemand: price(row, 'on_demand_usd_hour', where, { source, date, quality: GCE_PRICE_QUALITY }),
    spot: row['spot_usd_hour'] ? price(row, 'spot_usd_hour', where, { source, date, quality: 'snapshot' }) : null,
  };
}

function gceNetMbps(instanceType: string, family: string, vcpus: number): number | null {
  if (GCE_SHARED_CORE.has(instanceType)) return 1_000;
  const cap = GCE_NET_CAP_MBPS[family];
  return cap === undefined ? null : Math.min(Math.round(2_000 * vcpus), cap);
}

function price(
  row: CsvRecord,
  column: string,
  where: string,
  origin: Omit<CatalogPrice, 'microsPerHour'>,
): CatalogPrice {
  const microsPerHour = usdToMicros(num(row, column, where));
  if (microsPerHour <= 0)
    throw new ValidationError(`${where}.${column}`, `expected a positive price, got ${row[column]}`);
  return { microsPerHour, ...origin };
}

function text(row: CsvRecord, column: string, where: string): string {
  const value = row[column];
  if (!value) throw new ValidationError(`${where}.${column}`, 'expected a value, got an empty field');
  return value;
}

function num(row: CsvRecord, column: string, where: string): number {
  const value = Number(text(row, column, where));
  if (!Number.isFinite(value) || value < 0) {
    throw new ValidationError(
      `${where}.${column}`,
      `expected a non-negative number, got ${JSON.stringify(row[column])}`,
    );
  }
  return value;
}

function optionalNum(row: CsvRecord, column: string, where: string): number | null {
  return row[column] ? num(row, column, where) : null;
}

function arch(value: string, where: string): 'amd64' | 'arm64' {
  if (value === 'amd64' || value === 'arm64') return value;
  throw new ValidationError(`${where}.arch`, `expected amd64 or arm64, got ${JSON.stringify(value)}`);
}

function quality(value: string, where: string): PriceQuality {
  if (value === 'clean' || value === 'approx' || value === 'suspect') return value;
  throw new ValidationError(
    `${where}.on_demand_quality`,
    `expected clean, approx or suspect, got ${JSON.stringify(value)}`,
  );
}
