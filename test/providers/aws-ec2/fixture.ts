import { systemClock, type Clock, type ManualClock } from '../../../src/core/clock.ts';
import { bootstrapCredential } from '../../../src/core/credentials.ts';
import { newIntentId } from '../../../src/core/ids.ts';
import type { Offering } from '../../../src/core/offering.ts';
import { awsEc2ProviderSchema, type AwsEc2ProviderConfig } from '../../../src/config/schema.ts';
import type { Logger } from '../../../src/log/logger.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { AwsEc2Provider, type AwsEc2ProviderOptions } from '../../../src/providers/aws-ec2/aws-ec2-provider.ts';
import type { Ec2Buckets } from '../../../src/providers/aws-ec2/ec2-rate-limits.ts';
import type { LaunchRequest } from '../../../src/providers/provider.ts';
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

export const CLUSTER = 'test-cluster';
export const SERVER_SECRET = Buffer.alloc(32, 7);

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
export function providerConfig(emulator: Ec2Emulator, overrides: Record<string, unknown> = {}): AwsEc2ProviderConfig {
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

/**
 * Runs `work` while stepping `clock` to each next sleeper once the process has gone quiet (no open emulator request),
 * so code waiting on the clock (buckets, boots) moves on without real waiting. Returns what `work` returns.
 */
export async function drive<T>(clock: ManualClock, emulator: Ec2Emulator, work: Promise<T>): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  while (!settled) {
    await quiet(emulator);
    if (settled) break;
    const next = clock.nextWakeAt();
    if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
    else clock.set(next);
  }
  return done;
}

/** Resolves after a few turns of the event loop with no emulator request open. */
export async function quiet(emulator: Ec2Emulator, turns = 20): Promise<void> {
  let calm = 0;
  while (calm < turns) {
    await new Promise((resolve) => setImmediate(resolve));
    calm = emulator.openRequests() === 0 ? calm + 1 : 0;
  }
}

export interface Fixture {
  readonly emulator: Ec2Emulator;
  readonly provider: AwsEc2Provider;
  readonly clock: Clock;
  close(): Promise<void>;
}

/** An emulator and an adapter over the real SDK client talking to it. */
export async function startFixture(
  opts: {
    emulator?: Ec2EmulatorOptions;
    config?: Record<string, unknown>;
    provider?: Partial<AwsEc2ProviderOptions>;
    clock?: Clock;
    logger?: Logger;
  } = {},
): Promise<Fixture> {
  const clock = opts.clock ?? systemClock;
  const emulator = await Ec2Emulator.start({ clock, ...opts.emulator });
  const provider = new AwsEc2Provider({
    config: providerConfig(emulator, opts.config),
    clock,
    logger: opts.logger ?? silentLogger(),
    credentials: EMULATOR_CREDENTIALS,
    ...opts.provider,
  });
  return {
    emulator,
    provider,
    clock,
    async close() {
      provider.close();
      await emulator.close();
    },
  };
}

/** A launch request for one of the provider's offerings. */
export async function launchRequest(
  provider: AwsEc2Provider,
  pick: { instanceType?: string; zone?: string; lifecycle?: Offering['lifecycle'] } = {},
  overrides: Partial<LaunchRequest> = {},
): Promise<LaunchRequest> {
  const offering = (await provider.offerings()).find(
    (o) =>
      o.instanceType === (pick.instanceType ?? 'c7i.large') &&
      o.zone === (pick.zone ?? 'us-east-1a') &&
      o.lifecycle === (pick.lifecycle ?? 'on-demand'),
  );
  if (!offering) throw new Error(`no offering ${JSON.stringify(pick)}`);
  const intentId = overrides.intentId ?? newIntentId();
  return {
    intentId,
    clusterId: CLUSTER,
    offering,
    count: 1,
    owner: { team: 'vision', project: 'detector', job: 'train-7' },
    bootstrap: {
      controllerUrl: 'http://127.0.0.1:7070',
      caBundle: '',
      credential: bootstrapCredential(SERVER_SECRET, intentId),
    },
    ...overrides,
  };
}
