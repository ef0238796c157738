import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { CatalogEntry } from '../../src/cost-model/catalog.ts';
import { LABEL_ARCH, PriceBook, type PriceUpdate } from '../../src/cost-model/price-book.ts';
import { eligible, offeringHost } from '../../src/pool/builtin/eligibility.ts';
import { task } from '../fakes/builders.ts';

function entry(overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    provider: 'aws-ec2',
    region: 'us-east-1',
    instanceType: 'm7i.large',
    family: 'm7i',
    vcpus: 2,
    memoryMiB: 8192,
    gpus: 0,
    gpuModel: null,
    gpuMemoryMiB: null,
    netMbps: 781,
    netSource: 'test',
    arch: 'amd64',
    onDemand: { microsPerHour: 100_800, source: 'test', date: '2026-01-01', quality: 'clean' },
    spot: { microsPerHour: 40_000, source: 'test', date: '2026-01-01', quality: 'snapshot' },
    ...overrides,
  };
}

const gpuEntry = entry({
  instanceType: 'p4d.24xlarge',
  family: 'p4d',
  vcpus: 96,
  memoryMiB: 1_179_648,
  gpus: 8,
  gpuModel: 'A100-40GB',
  gpuMemoryMiB: 40_960,
  netMbps: 400_000,
  onDemand: { microsPerHour: 21_957_642, source: 'test', date: '2026-01-01', quality: 'clean' },
  spot: null,
});
const gceEntry = entry({
  provider: 'gcp-compute',
  region: 'us-central1',
  instanceType: 'e2-standard-2',
  family: 'e2',
  netMbps: null,
  arch: 'amd64',
});
const armEntry = entry({ instanceType: 'm7g.large', family: 'm7g', arch: 'arm64', spot: null });

function book(): PriceBook {
  return new PriceBook({ format: 1, sources: [], entries: [entry(), gpuEntry, gceEntry, armEntry] });
}

const awsQuery = {
  providerId: 'aws-ec2:us-east-1',
  provider: 'aws-ec2',
  region: 'us-east-1',
  zones: ['us-east-1b', 'us-east-1a'],
};
const update = (overrides: Partial<PriceUpdate> = {}): PriceUpdate => ({
  provider: 'aws-ec2',
  region: 'us-east-1',
  instanceType: 'm7i.large',
  lifecycle: 'spot',
  pricePerHourMicros: 35_000,
  observedAtMs: 1_000,
  source: 'ec2:DescribeSpotPriceHistory',
  ...overrides,
});

describe('price book', () => {
  it('looks up an instance type in a region, and nothing elsewhere', () => {
    assert.equal(book().lookup('aws-ec2', 'us-east-1', 'm7i.large')?.onDemand.microsPerHour, 100_800);
    assert.equal(book().lookup('aws-ec2', 'us-west-2', 'm7i.large'), undefined);
    assert.equal(book().lookup('gcp-compute', 'us-east-1', 'm7i.large'), undefined);
  });

  it('offers each type in each zone on demand, and as spot where a spot price is known', () => {
    const offerings = book().offerings(awsQuery);
    assert.deepEqual(
      offerings.map((o) => `${o.zone} ${o.instanceType} ${o.lifecycle} ${o.pricePerHourMicros}`),
      [
        'us-east-1a m7g.large on-demand 100800',
        'us-east-1a m7i.large on-demand 100800',
        'us-east-1a m7i.large spot 40000',
        'us-east-1a p4d.24xlarge on-demand 21957642',
        'us-east-1b m7g.large on-demand 100800',
        'us-east-1b m7i.large on-demand 100800',
        'us-east-1b m7i.large spot 40000',
        'us-east-1b p4d.24xlarge on-demand 21957642',
      ],
    );
  });

  it('builds offerings with capacity, provider and the labels placement and tasks match on', () => {
    const [gpu] = book().offerings({ ...awsQuery, zones: ['us-east-1a'], instanceTypes: ['p4d.24xlarge'] });
    assert.deepEqual(gpu!.capacity, { cpuMillis: 96_000, memoryMiB: 1_179_648, gpus: 8, netMbps: 400_000 });
    assert.equal(gpu!.providerId, 'aws-ec2:us-east-1');
    assert.equal(gpu!.provider, 'aws-ec2');
    assert.equal(gpu!.gpuModel, 'A100-40GB');
    assert.deepEqual(gpu!.labels, {
      'spillway.io/instance-type': 'p4d.24xlarge',
      'spillway.io/lifecycle': 'on-demand',
      'spillway.io/provider': 'aws-ec2:us-east-1',
      'spillway.io/zone': 'us-east-1a',
      'spillway.io/region': 'us-east-1',
      'spillway.io/arch': 'amd64',
      'gpu.model': 'A100-40GB',
    });
  });

  const filters = [
    { name: 'instance types', query: { instanceTypes: ['m7g.large'] }, expected: ['m7g.large on-demand'] },
    { name: 'families', query: { families: ['m7i'] }, expected: ['m7i.large on-demand', 'm7i.large spot'] },
    { name: 'lifecycles', query: { lifecycles: ['spot' as const] }, expected: ['m7i.large spot'] },
  ];
  for (const f of filters) {
    it(`offers only the ${f.name} asked for`, () => {
      const offerings = book().offerings({ ...awsQuery, zones: ['us-east-1a'], ...f.query });
      assert.deepEqual(
        offerings.map((o) => `${o.instanceType} ${o.lifecycle}`),
        f.expected,
      );
    });
  }

  it('plans unknown network bandwidth as none, so a task asking for bandwidth never lands there', () => {
    const [o] = book().offerings({
      providerId: 'gcp-compute:us-central1',
      provider: 'gcp-compute',
      region: 'us-central1',
      zones: ['us-central1-a'],
      lifecycles: ['on-demand'],
    });
    assert.equal(o!.capacity.netMbps, 0);
  });

  it('labels the architecture, so a task can ask for arm64', () => {
    const offerings = book().offerings({ ...awsQuery, zones: ['us-east-1a'], lifecycles: ['on-demand'] });
    const arm = task({ constraints: { labels: { [LABEL_ARCH]: 'arm64' } } });
    assert.deepEqual(
      offerings.filter((o) => eligible(arm, offeringHost(o))).map((o) => o.instanceType),
      ['m7g.large'],
    );
  });

  it('lets a task asking for A100 run on an A100-40GB offering, and not one asking for another model', () => {
    const [gpu] = book().offerings({ ...awsQuery, zones: ['us-east-1a'], instanceTypes: ['p4d.24xlarge'] });
    const host = offeringHost(gpu!);
    assert.equal(eligible(task({ resources: { gpus: 1 }, constraints: { gpuModels: ['a100'] } }), host), true);
    assert.equal(
      eligible(task({ resources: { gpus: 1 }, constraints: { gpuModels: ['A100-80GB', 'H100'] } }), host),
      false,
    );
  });

  it("applies a live spot price for a region, and a zone's own price over it", () => {
    const b = book();
    const result = b.apply([update(), update({ zone: 'us-east-1b', pricePerHourMicros: 33_000 })]);
    assert.deepEqual(result, { applied: 2, rejected: [] });
    const spot = b.offerings({ ...awsQuery, lifecycles: ['spot'] });
    assert.deepEqual(
      spot.map((o) => `${o.zone} ${o.pricePerHourMicros}`),
      ['us-east-1a 35000', 'us-east-1b 33000'],
    );
    assert.equal(b.lookup('aws-ec2', 'us-east-1', 'm7i.large')?.spot?.microsPerHour, 35_000);
    assert.equal(b.lookup('aws-ec2', 'us-east-1', 'm7i.large', 'us-east-1b')?.spot?.microsPerHour, 33_000);
    assert.equal(b.lookup('aws-ec2', 'us-east-1', 'm7i.large')?.onDemand.microsPerHour, 100_800);
  });

  it('offers spot for a type once a live spot price arrives for it', () => {
    const b = book();
    b.apply([update({ instanceType: 'p4d.24xlarge', pricePerHourMicros: 8_590_750 })]);
    const spot = b.offerings({
      ...awsQuery,
      zones: ['us-east-1a'],
      instanceTypes: ['p4d.24xlarge'],
      lifecycles: ['spot'],
    });
    assert.equal(spot[0]?.pricePerHourMicros, 8_590_750);
  });

  const bad = [
    { name: 'an unknown instance type', update: update({ instanceType: 'm99.huge' }), reason: /no such instance type/ },
    { name: 'a negative price', update: update({ pricePerHourMicros: -1 }), reason: /positive integer/ },
    { name: 'a fractional price', update: update({ pricePerHourMicros: 1.5 }), reason: /positive integer/ },
    {
      name: 'a price that is not a number',
      update: update({ pricePerHourMicros: Number.NaN }),
      reason: /positive integer/,
    },
    { name: 'a time that is not a time', update: update({ observedAtMs: Number.NaN }), reason: /not a time/ },
    { name: 'an unknown lifecycle', update: update({ lifecycle: 'reserved' as 'spot' }), reason: /unknown lifecycle/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}, keeps the last good price and never throws`, () => {
      const b = book();
      b.apply([update()]);
      const result = b.apply([c.update]);
      assert.equal(result.applied, 0);
      assert.match(result.rejected[0]!.reason, c.reason);
      assert.equal(b.lookup('aws-ec2', 'us-east-1', 'm7i.large')?.spot?.microsPerHour, 35_000);
    });
  }

  it('rejects a price older than the one it holds', () => {
    const b = book();
    b.apply([update({ observedAtMs: 2_000, pricePerHourMicros: 36_000 })]);
    const result = b.apply([update({ observedAtMs: 1_000, pricePerHourMicros: 20_000 })]);
    assert.match(result.rejected[0]!.reason, /older than the held price/);
    assert.equal(b.lookup('aws-ec2', 'us-east-1', 'm7i.large')?.spot?.microsPerHour, 36_000);
  });

  it('gives nothing for a region it has no prices for', () => {
    assert.deepEqual(book().offerings({ ...awsQuery, region: 'ap-south-1' }), []);
    assert.deepEqual(book().regions('aws-ec2'), ['us-east-1']);
  });
});
