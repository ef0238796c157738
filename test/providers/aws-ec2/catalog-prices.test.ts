import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { awsEc2ProviderSchema } from '../../../src/config/schema.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { ValidationError } from '../../../src/core/errors.ts';
import { loadCatalog } from '../../../src/cost-model/catalog.ts';
import { PriceBook } from '../../../src/cost-model/price-book.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { AwsEc2Provider } from '../../../src/providers/aws-ec2/aws-ec2-provider.ts';

// The SDK must never probe the instance metadata address; no call is made here at all.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const priceBook = new PriceBook(loadCatalog());

function config(instanceTypes: unknown[]) {
  return awsEc2ProviderSchema.parse({
    kind: 'aws-ec2',
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    launchTemplate: { id: 'lt-0123456789abcdef0' },
    subnets: [{ id: 'subnet-a', zone: 'us-east-1a' }],
    instanceTypes,
    priceRefreshMs: 0,
  });
}

function provider(instanceTypes: unknown[], withBook = true): AwsEc2Provider {
  return new AwsEc2Provider({
    config: config(instanceTypes),
    clock: new ManualClock(),
    logger: silentLogger(),
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    ...(withBook ? { priceBook } : {}),
  });
}

describe('aws-ec2 offerings from the price catalog', () => {
  it('takes the capacity and prices of a type the config only names from the catalog', async () => {
    const entry = priceBook.lookup('aws-ec2', 'us-east-1', 'm7i.large')!;
    const offerings = await provider([{ instanceType: 'm7i.large' }]).offerings();
    const onDemand = offerings.find((o) => o.lifecycle === 'on-demand')!;
    assert.equal(onDemand.pricePerHourMicros, entry.onDemand.microsPerHour);
    assert.equal(onDemand.capacity.cpuMillis, entry.vcpus * 1000);
    assert.equal(onDemand.capacity.memoryMiB, entry.memoryMiB);
    const spot = offerings.find((o) => o.lifecycle === 'spot');
    assert.equal(spot?.pricePerHourMicros, entry.spot?.microsPerHour);
  });

  it('lets the config override the catalog', async () => {
    const offerings = await provider([{ instanceType: 'm7i.large', pricePerHourUsd: 0.05 }]).offerings();
    assert.equal(offerings.find((o) => o.lifecycle === 'on-demand')!.pricePerHourMicros, 50_000);
  });

  it('refuses at start a type neither the config nor the catalog prices, naming the field', () => {
    assert.throws(
      () => provider([{ instanceType: 'm7i.large' }, { instanceType: 'x99.imaginary' }]),
      (err: unknown) => err instanceof ValidationError && /^instanceTypes\.1\.cpu$/.test(err.field) && /not in the price catalog/.test(err.message),
    );
    assert.throws(() => provider([{ instanceType: 'm7i.large' }], false), ValidationError, 'no catalog: the config must price it');
  });
});
