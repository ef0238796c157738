import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { allowedOfferings } from '../../src/cost-model/price-book-filter.ts';
import { offering, policy } from '../fakes/builders.ts';

/** `allowedOfferings` remembers its answer per offerings array and filter: each filter must still get its own answer. */
describe('allowed offerings, asked again and again over one array', () => {
  const awsSpot = offering({ providerId: 'aws:1', provider: 'aws', instanceType: 'm7i.large', lifecycle: 'spot', pricePerHourMicros: 30 });
  const awsBig = offering({ providerId: 'aws:1', provider: 'aws', instanceType: 'm7i.xlarge', pricePerHourMicros: 200 });
  const gce = offering({ providerId: 'gce:1', provider: 'gce', region: 'us-central1', instanceType: 'n2d-standard-2', pricePerHourMicros: 90 });
  const c7 = offering({ providerId: 'aws:1', provider: 'aws', instanceType: 'c7i.large', pricePerHourMicros: 90 });
  const offerings = [awsBig, gce, awsSpot, c7];
  const names = (list: readonly { instanceType: string }[]): string[] => list.map((o) => o.instanceType);

  it('answers each policy and unavailable set by its own filter, cheapest first, however often asked', () => {
    for (let round = 0; round < 3; round++) {
      // Ties on price go by offering key: 'aws:1/...' sorts before 'gce:1/...'.
      assert.deepEqual(names(allowedOfferings(policy(), offerings)), ['m7i.large', 'c7i.large', 'n2d-standard-2', 'm7i.xlarge']);
      assert.deepEqual(names(allowedOfferings(policy({ providers: ['gce'] }), offerings)), ['n2d-standard-2']);
      assert.deepEqual(names(allowedOfferings(policy({ spot: { allowed: false } }), offerings)), ['c7i.large', 'n2d-standard-2', 'm7i.xlarge']);
      assert.deepEqual(names(allowedOfferings(policy({ instanceFamilies: ['m7i'] }), offerings)), ['m7i.large', 'm7i.xlarge']);
      assert.deepEqual(names(allowedOfferings(policy({ regions: ['us-central1'] }), offerings)), ['n2d-standard-2']);
      assert.deepEqual(
        names(allowedOfferings(policy(), offerings, new Set(['aws:1/local-a/c7i.large/on-demand']))),
        ['m7i.large', 'n2d-standard-2', 'm7i.xlarge'],
      );
    }
  });

  it('hands out a fresh array: a caller changing it changes no later answer', () => {
    const first = allowedOfferings(policy(), offerings);
    first.length = 0;
    assert.deepEqual(names(allowedOfferings(policy(), offerings)), ['m7i.large', 'c7i.large', 'n2d-standard-2', 'm7i.xlarge']);
  });

  it('answers a new array of offerings by its own contents', () => {
    const fresh = [gce, { ...awsBig, available: false }];
    assert.deepEqual(names(allowedOfferings(policy(), fresh)), ['n2d-standard-2']);
  });
});
