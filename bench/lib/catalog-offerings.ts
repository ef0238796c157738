import type { Offering } from '../../src/core/offering.ts';
import { loadCatalog } from '../../src/cost-model/catalog.ts';
import { PriceBook } from '../../src/cost-model/price-book.ts';

/** The regions the benchmarks plan over: one AWS and one GCE region of the bundled catalog, one zone each. */
export const BENCH_REGIONS = [
  { providerId: 'aws-ec2:us-east-1', provider: 'aws-ec2', region: 'us-east-1', zones: ['us-east-1a'] },
  { providerId: 'gcp-compute:us-central1', provider: 'gcp-compute', region: 'us-central1', zones: ['us-central1-a'] },
] as const;

/** Every on-demand and spot offering of BENCH_REGIONS from the bundled catalog. */
export function benchOfferings(): Offering[] {
  const book = new PriceBook(loadCatalog());
  return BENCH_REGIONS.flatMap((r) => book.offerings({ ...r, zones: [...r.zones] }));
}
