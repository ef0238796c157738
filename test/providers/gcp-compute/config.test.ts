import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { ValidationError } from '../../../src/core/errors.ts';
import { configSchema, gcpComputeProviderSchema } from '../../../src/config/schema.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { systemClock } from '../../../src/core/clock.ts';
import { GcpComputeProvider } from '../../../src/providers/gcp-compute/gcp-compute-provider.ts';
import { catalogBook } from './fixture.ts';

const base = {
  kind: 'gcp-compute',
  project: 'acme-burst-1',
  region: 'us-central1',
  zones: ['us-central1-a'],
  instanceTemplate: 'spillway-agents',
  instanceTypes: [{ instanceType: 'e2-standard-2' }],
};

function issuePaths(input: unknown): string[] {
  const result = gcpComputeProviderSchema.safeParse(input);
  assert.equal(result.success, false);
  return result.error!.issues.map((i) => i.path.join('.'));
}

describe('gcp-compute provider config', () => {
  it('fills in the documented rate limits, bulk size and timeouts, and takes partial overrides', () => {
    const config = gcpComputeProviderSchema.parse({ ...base, rateLimits: { mutationsPerMinute: 60 } });
    assert.deepEqual(config.rateLimits, {
      mutationsPerMinute: 60,
      listsPerMinute: 1_500,
      operationReadsPerMinute: 1_500,
    });
    assert.equal(config.maxBulkInsert, 1_000);
    assert.equal(config.requestIdTrustMs, 600_000);
    assert.equal(config.endpoint, undefined, "Google's endpoint unless overridden");
  });

  it('names the field of a zone outside the region, a bad project id and a bad endpoint protocol', () => {
    assert.deepEqual(issuePaths({ ...base, zones: ['us-east1-b'] }), ['zones.0']);
    assert.deepEqual(issuePaths({ ...base, project: 'Acme' }), ['project']);
    assert.deepEqual(issuePaths({ ...base, endpoint: { host: 'h', protocol: 'ftp' } }), ['endpoint.protocol']);
    assert.deepEqual(issuePaths({ ...base, maxBulkInsert: 5_000 }), ['maxBulkInsert']);
  });

  it('is one of the providers a spillway.yaml may list', () => {
    const config = configSchema.parse({ clusterId: 'c1', providers: [base] });
    assert.equal(config.providers[0]!.kind, 'gcp-compute');
  });

  it('refuses at start a machine type the catalog lacks and the config does not describe, naming the field', async () => {
    const config = gcpComputeProviderSchema.parse({ ...base, instanceTypes: [{ instanceType: 'x9-imaginary-2' }] });
    assert.throws(
      () => new GcpComputeProvider({ config, clock: systemClock, logger: silentLogger(), priceBook: undefined }),
      (err: unknown) => err instanceof ValidationError && err.field === 'instanceTypes.0.cpu',
    );
    const described = gcpComputeProviderSchema.parse({
      ...base,
      instanceTypes: [{ instanceType: 'x9-imaginary-2', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.05 }],
    });
    const provider = new GcpComputeProvider({
      config: described,
      clock: systemClock,
      logger: silentLogger(),
      priceBook: await catalogBook(),
      accessToken: 't',
    });
    assert.deepEqual(
      (await provider.offerings()).map((o) => [o.instanceType, o.lifecycle, o.pricePerHourMicros]),
      [['x9-imaginary-2', 'on-demand', 50_000]],
    );
    await provider.close();
  });

  it('offers each allowed type in each zone, on-demand and Spot at the catalog prices', async () => {
    const config = gcpComputeProviderSchema.parse({ ...base, zones: ['us-central1-a', 'us-central1-f'] });
    const provider = new GcpComputeProvider({
      config,
      clock: systemClock,
      logger: silentLogger(),
      priceBook: await catalogBook(),
      accessToken: 't',
    });
    const offerings = await provider.offerings();
    assert.deepEqual(
      offerings.map((o) => [o.zone, o.lifecycle, o.pricePerHourMicros, o.capacity.cpuMillis, o.capacity.memoryMiB]),
      [
        ['us-central1-a', 'on-demand', 67_011, 2000, 8192],
        ['us-central1-a', 'spot', 40_212, 2000, 8192],
        ['us-central1-f', 'on-demand', 67_011, 2000, 8192],
        ['us-central1-f', 'spot', 40_212, 2000, 8192],
      ],
    );
    assert.ok(offerings.every((o) => o.provider === 'gcp-compute' && o.providerId === 'gcp-compute:us-central1'));
    await provider.close();
  });
});
