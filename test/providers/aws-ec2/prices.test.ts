import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { ManualClock } from '../../../src/core/clock.ts';
import { AuthError } from '../../../src/core/errors.ts';
import type { Catalog, CatalogEntry } from '../../../src/cost-model/catalog.ts';
import { PriceBook } from '../../../src/cost-model/price-book.ts';
import { toPriceBookUpdates } from '../../../src/providers/aws-ec2/price-book-feed.ts';
import type { Ec2PriceUpdates } from '../../../src/providers/aws-ec2/price-refresh.ts';
import { networkMbps } from '../../../src/providers/aws-ec2/price-refresh.ts';
import { startFixture, type Fixture } from './fixture.ts';

function catalogEntry(instanceType: string, vcpus: number, memoryMiB: number): CatalogEntry {
  const price = (microsPerHour: number) => ({
    microsPerHour,
    source: 'test',
    date: '2026-01-01',
    quality: 'clean' as const,
  });
  return {
    provider: 'aws-ec2',
    region: 'us-east-1',
    instanceType,
    family: instanceType.split('.')[0]!,
    vcpus,
    memoryMiB,
    gpus: 0,
    gpuModel: null,
    gpuMemoryMiB: null,
    netMbps: 12_500,
    netSource: 'test',
    arch: 'amd64',
    onDemand: price(100_800),
    spot: price(44_900),
  };
}

describe('aws-ec2 provider: price refresh', () => {
  let fx: Fixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('reads specs (DescribeInstanceTypes) and each zone current spot price (DescribeSpotPriceHistory)', async () => {
    const clock = new ManualClock();
    fx = await startFixture({ clock });
    clock.advance(60_000);
    fx.emulator.setSpotPrice('m7i.large', 'us-east-1a', 0.0312);
    clock.advance(60_000);
    const updates = await fx.provider.refreshPrices();

    assert.equal(updates.region, 'us-east-1');
    assert.deepEqual(
      updates.specs.map((s) => [s.instanceType, s.capacity.cpuMillis, s.capacity.memoryMiB, s.capacity.netMbps]),
      [
        ['c7i.large', 2000, 4096, 12_500],
        ['m7a.large', 2000, 8192, 12_500],
        ['m7i.large', 2000, 8192, 12_500],
      ],
    );
    const spot = new Map(updates.spotPrices.map((p) => [`${p.instanceType}/${p.zone}`, p]));
    assert.equal(spot.size, 6, 'three types in two zones');
    assert.equal(spot.get('m7i.large/us-east-1a')!.pricePerHourMicros, 31_200, 'the newest price of the zone');
    assert.equal(spot.get('m7i.large/us-east-1b')!.pricePerHourMicros, 44_900);
    assert.equal(spot.get('m7i.large/us-east-1a')!.observedAtMs, clock.now() - 60_000);
    assert.deepEqual(
      fx.emulator.calls.map((c) => c.action),
      ['DescribeInstanceTypes', 'DescribeSpotPriceHistory'],
    );
  });

  it('offers spot at the refreshed price of each zone and on-demand at the configured price', async () => {
    const clock = new ManualClock();
    fx = await startFixture({ clock, config: { priceRefreshMs: 600_000 } });
    fx.emulator.setSpotPrice('c7i.large', 'us-east-1b', 0.02);
    const offerings = await fx.provider.offerings();
    const price = (type: string, zone: string, lifecycle: string) =>
      offerings.find((o) => o.instanceType === type && o.zone === zone && o.lifecycle === lifecycle)!
        .pricePerHourMicros;
    assert.equal(price('c7i.large', 'us-east-1b', 'spot'), 20_000);
    assert.equal(price('c7i.large', 'us-east-1a', 'spot'), 40_300);
    assert.equal(price('c7i.large', 'us-east-1a', 'on-demand'), 89_250);

    // Not due again for priceRefreshMs: no more calls.
    const calls = fx.emulator.calls.length;
    await fx.provider.offerings();
    assert.equal(fx.emulator.calls.length, calls);
  });

  it('keeps the last good prices when a refresh fails', async () => {
    const clock = new ManualClock();
    fx = await startFixture({ clock, config: { priceRefreshMs: 60_000 } });
    fx.emulator.setSpotPrice('c7i.large', 'us-east-1a', 0.021);
    await fx.provider.offerings();
    clock.advance(60_000);
    fx.emulator.injectFault({ kind: 'error', action: 'DescribeInstanceTypes', code: 'Unavailable', status: 503 });
    const offerings = await fx.provider.offerings();
    const spot = offerings.find(
      (o) => o.instanceType === 'c7i.large' && o.zone === 'us-east-1a' && o.lifecycle === 'spot',
    );
    assert.equal(spot!.pricePerHourMicros, 21_000);
  });

  it('names the permission a refresh lacks', async () => {
    fx = await startFixture();
    fx.emulator.deny('DescribeInstanceTypes');
    await assert.rejects(fx.provider.refreshPrices(), (err: unknown) => {
      assert.ok(err instanceof AuthError);
      assert.match(err.message, /may not call ec2:DescribeInstanceTypes/);
      return true;
    });
  });

  it('feeds the price book: zone spot prices apply, stale ones are refused', () => {
    const catalog: Catalog = { format: 1, sources: [], entries: [catalogEntry('m7i.large', 2, 8192)] };
    const book = new PriceBook(catalog);
    const updates = (usd: number, atMs: number): Ec2PriceUpdates => ({
      provider: 'aws-ec2',
      region: 'us-east-1',
      refreshedAtMs: atMs,
      specs: [],
      unknownTypes: [],
      spotPrices: [
        {
          instanceType: 'm7i.large',
          zone: 'us-east-1a',
          pricePerHourMicros: Math.round(usd * 1e6),
          observedAtMs: atMs,
        },
      ],
    });
    assert.equal(book.apply(toPriceBookUpdates(updates(0.0312, 2_000))).applied, 1);
    assert.equal(book.lookup('aws-ec2', 'us-east-1', 'm7i.large', 'us-east-1a')!.spot!.microsPerHour, 31_200);
    assert.equal(book.lookup('aws-ec2', 'us-east-1', 'm7i.large', 'us-east-1b')!.spot!.microsPerHour, 44_900);
    const stale = book.apply(toPriceBookUpdates(updates(0.05, 1_000)));
    assert.equal(stale.rejected.length, 1);
    assert.equal(book.lookup('aws-ec2', 'us-east-1', 'm7i.large', 'us-east-1a')!.spot!.microsPerHour, 31_200);
  });

  it('reads EC2 network performance as Mbit/s', () => {
    const cases = [
      { name: 'up to', text: 'Up to 12.5 Gigabit', mbps: 12_500 },
      { name: 'fixed', text: '25 Gigabit', mbps: 25_000 },
      { name: 'named', text: 'Moderate', mbps: 500 },
      { name: 'unknown', text: 'Fast', mbps: 0 },
    ];
    for (const c of cases) assert.equal(networkMbps(c.text), c.mbps, c.name);
  });
});
