import { systemClock } from '../../../src/core/clock.ts';
import { awsEc2ProviderSchema, type AwsEc2ProviderConfig } from '../../../src/config/schema.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { AwsEc2Provider, type AwsEc2ProviderOptions } from '../../../src/providers/aws-ec2/aws-ec2-provider.ts';
import type { Ec2Buckets } from '../../../src/providers/aws-ec2/ec2-rate-limits.ts';
import type { LaunchRequest } from '../../../src/providers/provider.ts';
import {
  CLUSTER,
  cloudFixture,
  FAMILY_REALISM,
  cloudLaunchRequest,
  type CloudFixture,
  type CloudFixtureOptions,
  drive,
  quiet,
  SERVER_SECRET,
  type OfferingPick,
} from '../cloud-fixture.ts';
import { ON_DEMAND_PRICES_USD, DEFAULT_SPOT_PRICES_USD } from '../../emulators/ec2/catalog.ts';
import {
  DEFAULT_LAUNCH_TEMPLATE,
  DEFAULT_SUBNETS,
  EMULATOR_CREDENTIALS,
  Ec2Emulator,
  type Ec2EmulatorOptions,
} from '../../emulators/ec2/ec2-emulator.ts';

// The SDK must never probe the instance metadata address; credentials and endpoint are explicit below.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export { CLUSTER, drive, quiet, SERVER_SECRET };

/** The types the test provider allows, with the emulator's specs and us-east-1 prices. */
export const TEST_TYPES = [
  { instanceType: 'c7i.large', cpu: 2, memory: '4Gi' },
  { instanceType: 'm7i.large', cpu: 2, memory: '8Gi' },
  { instanceType: 'm7a.large', cpu: 2, memory: '8Gi' },
].map((t) => ({
  ...t,
  pricePerHourUsd: ON_DEMAND_PRICES_USD[t.instanceType]!,
  spotPricePerHourUsd: DEFAULT_SPOT_PRICES_USD[t.instanceType]!,
}));

/** A validated aws-ec2 provider config pointing at the emulator. */
export function providerConfig(emulator: Pick<Ec2Emulator, 'url' | 'region'>, overrides: Record<string, unknown> = {}): AwsEc2ProviderConfig {
  return awsEc2ProviderSchema.parse({
    kind: 'aws-ec2',
    region: emulator.region,
    endpoint: emulator.url,
    launchTemplate: { id: DEFAULT_LAUNCH_TEMPLATE.id },
    subnets: DEFAULT_SUBNETS.map((s) => ({ id: s.id, zone: s.zone })),
    instanceTypes: TEST_TYPES,
    bootScript: { agentCommand: ['true'] },
    requestTimeoutMs: 5_000,
    priceRefreshMs: 0,
    ...overrides,
  });
}

/** Buckets so large the adapter never waits: for tests about something else than rate limits. */
const HUGE = { capacity: 10_000_000, refillPerSecond: 1_000 };
export const UNTHROTTLED: Ec2Buckets = {
  runInstancesRequests: HUGE,
  runInstancesInstances: HUGE,
  terminateInstancesRequests: HUGE,
  terminateInstancesInstances: HUGE,
  describeRequests: HUGE,
};

export type Fixture = CloudFixture<Ec2Emulator, AwsEc2Provider>;

/** An emulator and an adapter over the real SDK client talking to it. */
export async function startFixture(
  opts: CloudFixtureOptions<Ec2EmulatorOptions, AwsEc2ProviderOptions> = {},
): Promise<Fixture> {
  const clock = opts.clock ?? systemClock;
  const emulator = await Ec2Emulator.start({ clock, ...opts.emulator, realism: { ...FAMILY_REALISM, ...opts.emulator?.realism } });
  const provider = new AwsEc2Provider({
    config: providerConfig(emulator, opts.config),
    clock,
    logger: opts.logger ?? silentLogger(),
    credentials: EMULATOR_CREDENTIALS,
    ...opts.provider,
  });
  return cloudFixture(emulator, provider, clock);
}

/** A launch request for one of the provider's offerings (c7i.large on demand in us-east-1a unless picked). */
export function launchRequest(
  provider: AwsEc2Provider,
  pick: OfferingPick = {},
  overrides: Partial<LaunchRequest> = {},
): Promise<LaunchRequest> {
  return cloudLaunchRequest(
    provider,
    { instanceType: 'c7i.large', zone: 'us-east-1a', team: 'vision' },
    pick,
    overrides,
  );
}
