import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TAG_INTENT } from '../../src/providers/aws-ec2/launch-input.ts';
import { DEFAULT_SPOT_PRICES_USD, ON_DEMAND_PRICES_USD } from '../emulators/ec2/catalog.ts';
import {
  DEFAULT_LAUNCH_TEMPLATE,
  DEFAULT_SUBNETS,
  EMULATOR_CREDENTIALS,
  type Ec2Emulator,
} from '../emulators/ec2/ec2-emulator.ts';
import { EMULATOR_ACCOUNT_ID } from '../emulators/ec2/metadata-service.ts';
import { storeView } from '../emulators/gce/spillway-config.ts';
import { EC2_TEST_KEY } from '../emulators/identity/test-keys.ts';
import { query, type Cluster } from './harness.ts';

/** The environment of a `spillway serve` talking to the EC2 emulator: explicit credentials, no metadata probes, no shared AWS files. */
export function awsServeEnv(dir: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  };
}

/** c7i.large and m7i.large at the emulator's on-demand and spot prices. */
const DEFAULT_TYPES = ['c7i.large', 'm7i.large'].map((instanceType) => ({
  instanceType,
  cpu: 2,
  memory: instanceType === 'c7i.large' ? '4Gi' : '8Gi',
  pricePerHourUsd: ON_DEMAND_PRICES_USD[instanceType],
  spotPricePerHourUsd: DEFAULT_SPOT_PRICES_USD[instanceType],
}));

/** An aws-ec2 provider entry of a spillway.yaml pointing at the emulator, instances running `agentCommand`. */
export function ec2ProviderEntry(
  emulator: Ec2Emulator,
  opts: { readonly agentCommand: readonly string[]; readonly instanceTypes?: readonly Record<string, unknown>[] },
): Record<string, unknown> {
  return {
    kind: 'aws-ec2',
    region: emulator.region,
    endpoint: emulator.url,
    launchTemplate: { id: DEFAULT_LAUNCH_TEMPLATE.id },
    subnets: DEFAULT_SUBNETS.map((s) => ({ id: s.id, zone: s.zone })),
    instanceTypes: [...(opts.instanceTypes ?? DEFAULT_TYPES)],
    bootMs: 2_000,
    bootScript: { agentCommand: [...opts.agentCommand] },
    requestTimeoutMs: 5_000,
    priceRefreshMs: 0,
    // As production configures AWS's RSA certificate of the region: the emulator signs with its test key.
    identity: { certificateFile: EC2_TEST_KEY.certificateFile, accountId: EMULATOR_ACCOUNT_ID },
  };
}

/**
 * No EC2 instance launched twice and none the store does not know, over the emulator's whole history: every
 * instance carries a launch intent the store has, is an agent's instance id there, and no intent has more instances
 * than its count.
 */
export function assertEc2NoDuplicateNoUnknown(emulator: Ec2Emulator, cluster: Cluster): void {
  const { launches, knownInstanceIds } = storeView((sql) => query(cluster, sql));
  const perIntent = new Map<string, number>();
  for (const instance of emulator.instances()) {
    const intentId = instance.tags.get(TAG_INTENT) ?? '';
    assert.ok(launches.has(intentId), `EC2 instance ${instance.id} carries intent ${intentId}, which the store knows`);
    assert.ok(
      knownInstanceIds.has(instance.id),
      `EC2 instance ${instance.id} (${instance.state}) is known to the store`,
    );
    perIntent.set(intentId, (perIntent.get(intentId) ?? 0) + 1);
  }
  for (const [intentId, n] of perIntent) {
    assert.ok(
      n <= launches.get(intentId)!,
      `intent ${intentId} launched ${n} EC2 instances for a count of ${launches.get(intentId)}`,
    );
  }
}
