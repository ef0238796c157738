import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'mocha';
import { ValidationError } from '../../src/core/errors.ts';
import { buildCatalog, CATALOG_SOURCES, type CatalogSourceTexts } from '../../src/cost-model/catalog-build.ts';
import { parseCsv } from '../../src/cost-model/catalog-csv.ts';
import {
  BUNDLED_CATALOG_PATH,
  loadCatalog,
  parseCatalog,
  serializeCatalog,
  type Catalog,
} from '../../src/cost-model/catalog.ts';

const dataDir = fileURLToPath(new URL('../../data/', import.meta.url));

function sources(): CatalogSourceTexts {
  return Object.fromEntries(
    Object.entries(CATALOG_SOURCES).map(([key, file]) => [key, readFileSync(join(dataDir, file), 'utf8')]),
  ) as unknown as CatalogSourceTexts;
}

describe('price catalog', () => {
  const built = buildCatalog(sources());
  const bundled = loadCatalog();

  it('is what scripts/build-catalog.ts builds from the committed price files', () => {
    // Compared as data, so a reformatted file still passes; `node scripts/build-catalog.ts --check` compares bytes.
    assert.deepEqual(bundled, parseCatalog(JSON.parse(serializeCatalog(built))), 'run node scripts/build-catalog.ts');
    assert.deepEqual(JSON.parse(readFileSync(BUNDLED_CATALOG_PATH, 'utf8')), JSON.parse(serializeCatalog(built)));
  });

  it('has every AWS and GCE row of the price files, once', () => {
    const rows = (file: string): number => parseCsv(readFileSync(join(dataDir, file), 'utf8'), file).length;
    assert.equal(bundled.entries.length, rows(CATALOG_SOURCES.awsPrices) + rows(CATALOG_SOURCES.gcePrices));
    const keys = new Set(bundled.entries.map((e) => `${e.provider}/${e.region}/${e.instanceType}`));
    assert.equal(keys.size, bundled.entries.length);
    assert.deepEqual([...new Set(bundled.entries.map((e) => `${e.provider}/${e.region}`))].sort(), [
      'aws-ec2/eu-west-1',
      'aws-ec2/us-east-1',
      'aws-ec2/us-west-2',
      'gcp-compute/europe-west4',
      'gcp-compute/us-central1',
      'gcp-compute/us-east1',
    ]);
  });

  it('serialises deterministically, whatever the order of the entries', () => {
    const shuffled: Catalog = { ...built, entries: [...built.entries].reverse() };
    assert.equal(serializeCatalog(shuffled), serializeCatalog(built));
  });

  const find = (provider: string, region: string, instanceType: string) =>
    bundled.entries.find((e) => e.provider === provider && e.region === region && e.instanceType === instanceType)!;

  const cases = [
    {
      name: 'an AWS GPU type takes GPU memory and bandwidth from the Karpenter specs',
      entry: () => find('aws-ec2', 'us-east-1', 'p4d.24xlarge'),
      expected: {
        vcpus: 96,
        memoryMiB: 1_179_648,
        gpus: 8,
        gpuModel: 'A100-40GB',
        gpuMemoryMiB: 40_960,
        netMbps: 400_000,
        arch: 'amd64',
      },
    },
    {
      name: 'an AWS Arm type keeps its architecture and its prices in micro-USD',
      entry: () => find('aws-ec2', 'us-east-1', 'a1.large'),
      expected: { vcpus: 2, memoryMiB: 4096, gpus: 0, gpuModel: null, arch: 'arm64' },
      onDemandMicros: 51_000,
      spotMicros: 24_200,
    },
    {
      name: 'a GCE shared-core type has a fractional vCPU and 1 Gbps',
      entry: () => find('gcp-compute', 'us-central1', 'e2-micro'),
      expected: { vcpus: 0.25, memoryMiB: 1024, netMbps: 1000, arch: 'amd64' },
    },
    {
      name: "a GCE GPU type keeps Google's accelerator name and its memory",
      entry: () => find('gcp-compute', 'us-central1', 'a2-highgpu-1g'),
      expected: { vcpus: 12, gpus: 1, gpuModel: 'A100-40GB', gpuMemoryMiB: 40_960, netMbps: null },
      onDemandMicros: 3_673_385,
      spotMicros: 1_928_020,
    },
    {
      name: 'a GCE Arm series is arm64 and derives bandwidth from vCPUs',
      entry: () => find('gcp-compute', 'us-central1', 't2a-standard-8'),
      expected: { arch: 'arm64', netMbps: 16_000 },
    },
  ];
  for (const c of cases) {
    it(`reads the data right: ${c.name}`, () => {
      const entry = c.entry();
      assert.ok(entry);
      for (const [key, value] of Object.entries(c.expected))
        assert.deepEqual(entry[key as keyof typeof entry], value, key);
      if (c.onDemandMicros) assert.equal(entry.onDemand.microsPerHour, c.onDemandMicros);
      if (c.spotMicros) assert.equal(entry.spot?.microsPerHour, c.spotMicros);
    });
  }

  it('keeps where each price came from', () => {
    const e = find('aws-ec2', 'us-west-2', 'm5.large');
    assert.equal(e.onDemand.quality, 'approx');
    assert.match(e.onDemand.source, /coroot/);
    assert.equal(e.spot?.quality, 'snapshot');
    assert.equal(find('aws-ec2', 'us-east-1', 'p5.4xlarge').spot, null);
  });

  it('rejects a catalog file with a bad field, naming it', () => {
    const bad = JSON.parse(serializeCatalog(built)) as { entries: { onDemand: { microsPerHour: number } }[] };
    bad.entries[3]!.onDemand.microsPerHour = -5;
    assert.throws(
      () => parseCatalog(bad, 'x.json'),
      (err: unknown) =>
        err instanceof ValidationError && /x\.json:entries\.3\.onDemand\.microsPerHour/.test(err.message),
    );
  });

  it('rejects a price file row with a bad number, naming the file and line', () => {
    const texts = sources();
    const broken = texts.gcePrices.replace(/\n(gcp,us-central1,a2-highgpu-1g,)12,/, '\n$1twelve,');
    assert.throws(() => buildCatalog({ ...texts, gcePrices: broken }), /gcp_gce_prices_3regions\.csv:\d+\.vcpu/);
  });
});

describe('csv', () => {
  const cases = [
    {
      name: 'plain fields with CRLF',
      text: 'a,b\r\n1,2\r\n3,\r\n',
      expected: [
        { a: '1', b: '2' },
        { a: '3', b: '' },
      ],
    },
    {
      name: 'quoted fields with commas and quotes',
      text: 'a,b\n"x,y","say ""hi"""\n',
      expected: [{ a: 'x,y', b: 'say "hi"' }],
    },
    { name: 'no final newline and blank lines', text: 'a\n\n1\n2', expected: [{ a: '1' }, { a: '2' }] },
  ];
  for (const c of cases) it(`parses ${c.name}`, () => assert.deepEqual(parseCsv(c.text, 't.csv'), c.expected));

  it('rejects a row with the wrong number of fields, naming the line', () => {
    assert.throws(() => parseCsv('a,b\n1,2\n3\n', 't.csv'), /t\.csv:3: expected 2 fields, got 1/);
  });
});
