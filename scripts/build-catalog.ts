/**
 * Builds `data/catalog.json` from the price files in `data/prices/` (see data/PROVENANCE.md).
 *
 *   node scripts/build-catalog.ts          # writes data/catalog.json
 *   node scripts/build-catalog.ts --check  # exits 1 when the committed catalog differs from a fresh build
 *
 * Deterministic: the same CSVs give the same bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCatalog, CATALOG_SOURCES, type CatalogSourceTexts } from '../src/cost-model/catalog-build.ts';
import { serializeCatalog } from '../src/cost-model/catalog.ts';

const dataDir = fileURLToPath(new URL('../data/', import.meta.url));
const target = join(dataDir, 'catalog.json');

const texts = Object.fromEntries(
  Object.entries(CATALOG_SOURCES).map(([key, file]) => [key, readFileSync(join(dataDir, file), 'utf8')]),
) as unknown as CatalogSourceTexts;
const catalog = buildCatalog(texts);
const json = serializeCatalog(catalog);

if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== json) {
    console.error(`${target} is out of date: run node scripts/build-catalog.ts`);
    process.exit(1);
  }
  console.log(`${target} is up to date (${catalog.entries.length} entries)`);
} else {
  writeFileSync(target, json);
  const count = (provider: string): number => catalog.entries.filter((e) => e.provider === provider).length;
  console.log(
    `wrote ${target}: ${catalog.entries.length} entries (aws-ec2 ${count('aws-ec2')}, gcp-compute ${count('gcp-compute')})`,
  );
}
