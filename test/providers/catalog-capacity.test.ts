import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { awsEc2ProviderSchema, gcpComputeProviderSchema } from '../../src/config/schema.ts';
import { loadCatalog } from '../../src/cost-model/catalog.ts';
import { PriceBook } from '../../src/cost-model/price-book.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { AwsEc2Provider } from '../../src/providers/aws-ec2/aws-ec2-provider.ts';
import { catalogOfferings } from '../../src/providers/catalog-offerings.ts';
import { GcpComputeProvider } from '../../src/providers/gcp-compute/gcp-compute-provider.ts';
import { ManualClock } from '../../src/core/clock.ts';

// No SDK may probe a metadata server: these providers make no call at all, and must not start to.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.METADATA_SERVER_DETECTION = 'none';

/** The bundled catalog's row, read straight from data/catalog.json (not through the price book). */
function catalogRow(provider: string, region: string, instanceType: string) {
  const row = loadCatalog().entries.find(
    (e) => e.provider === provider && e.region === region && e.instanceType === instanceType,
  );
  assert.ok(row, `${instanceType} is in the catalog`);
  return row;
}

describe('capacity from the catalog: every dimension the config does not give, network included', () => {
  const book = new PriceBook(loadCatalog());

  it('GCE offerings carry the catalog network capacity of each machine type (e2-standard-2: 4,000; e2-standard-4: 8,000)', async () => {
    const config = gcpComputeProviderSchema.parse({
      kind: 'gcp-compute',
      project: 'my-project-123',
      region: 'us-central1',
      zones: ['us-central1-a'],
      instanceTemplate: 'spillway-agents',
      instanceTypes: [{ instanceType: 'e2-standard-2' }, { instanceType: 'e2-standard-4' }],
      bootScript: { agentCommand: ['true'] },
    });
    const provider = new GcpComputeProvider({
      config,
      clock: new ManualClock(),
      logger: silentLogger(),
      accessToken: 'unused',
      priceBook: book,
    });
    try {
      const net = new Map((await provider.offerings()).map((o) => [o.instanceType, o.capacity.netMbps]));
      assert.equal(net.get('e2-standard-2'), 4_000);
      assert.equal(net.get('e2-standard-4'), 8_000);
      assert.equal(net.get('e2-standard-2'), catalogRow('gcp-compute', 'us-central1', 'e2-standard-2').netMbps);
    } finally {
      await provider.close();
    }
  });

  it('EC2 offerings carry the catalog network capacity until a refresh reports the type; config given wins', async () => {
    const config = awsEc2ProviderSchema.parse({
      kind: 'aws-ec2',
      region: 'us-east-1',
      launchTemplate: { id: 'lt-0123456789abcdef0' },
      subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }],
      instanceTypes: [{ instanceType: 'c7i.large' }, { instanceType: 'm7i.large', netMbps: 2_500 }],
      bootScript: { agentCommand: ['true'] },
      priceRefreshMs: 0,
    });
    const provider = new AwsEc2Provider({ config, clock: new ManualClock(), logger: silentLogger(), priceBook: book });
    try {
      const net = new Map((await provider.offerings()).map((o) => [o.instanceType, o.capacity.netMbps]));
      assert.equal(net.get('c7i.large'), catalogRow('aws-ec2', 'us-east-1', 'c7i.large').netMbps);
      assert.equal(net.get('m7i.large'), 2_500, 'the config gave it');
    } finally {
      provider.close();
    }
  });

  it('a type neither the config nor the catalog gives network for is taken as 1,000 Mbit/s', () => {
    const [offering] = catalogOfferings({
      provider: 'aws-ec2',
      providerId: 'aws-ec2:us-east-1',
      region: 'us-east-1',
      zones: ['us-east-1a'],
      types: [{ instanceType: 'x1.custom', cpu: 2000, memory: 4096, gpus: 0, pricePerHourUsd: 0.1, labels: {} }],
      bootMs: 1_000,
    });
    assert.equal(offering!.capacity.netMbps, 1_000);
  });
});
