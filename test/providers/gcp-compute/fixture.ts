import { systemClock } from '../../../src/core/clock.ts';
import { gcpComputeProviderSchema, type GcpComputeProviderConfig } from '../../../src/config/schema.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import {
  GcpComputeProvider,
  type GcpComputeProviderOptions,
} from '../../../src/providers/gcp-compute/gcp-compute-provider.ts';
import type { LaunchRequest } from '../../../src/providers/provider.ts';
import {
  CLUSTER,
  cloudFixture,
  FAMILY_REALISM,
  cloudLaunchRequest,
  type CloudFixture,
  type CloudFixtureOptions,
  drive,
  SERVER_SECRET,
  type OfferingPick,
} from '../cloud-fixture.ts';
import {
  DEFAULT_TEMPLATE,
  DEFAULT_ZONES,
  EMULATOR_ACCESS_TOKEN,
  GceEmulator,
  type GceEmulatorOptions,
} from '../../emulators/gce/gce-emulator.ts';

// Google's libraries must never probe the metadata server; credentials and endpoint are explicit below.
process.env.METADATA_SERVER_DETECTION = 'none';

export { CLUSTER, drive, SERVER_SECRET };

/** The machine types the test provider allows; capacity and us-central1 prices come from the bundled catalog. */
export const TEST_TYPES = [
  { instanceType: 'e2-standard-2' },
  { instanceType: 'n2-standard-2' },
  { instanceType: 'e2-standard-4' },
];

/** Rate limits so large the adapter never waits: for tests about something else. */
export const UNTHROTTLED = {
  mutationsPerMinute: 10_000_000,
  listsPerMinute: 10_000_000,
  operationReadsPerMinute: 10_000_000,
};

/** A validated gcp-compute provider config pointing at the emulator. */
export function gceProviderConfig(
  emulator: GceEmulator,
  overrides: Record<string, unknown> = {},
): GcpComputeProviderConfig {
  return gcpComputeProviderSchema.parse({
    kind: 'gcp-compute',
    project: emulator.project,
    region: 'us-central1',
    zones: [...DEFAULT_ZONES],
    endpoint: { host: '127.0.0.1', port: emulator.port, protocol: 'http' },
    instanceTemplate: DEFAULT_TEMPLATE,
    instanceTypes: TEST_TYPES,
    bootScript: { agentCommand: ['true'] },
    requestTimeoutMs: 5_000,
    ...overrides,
  });
}

/** A price book over the bundled catalog (what `serve` gives providers). */
export async function catalogBook(): Promise<GcpComputeProviderOptions['priceBook']> {
  const { PriceBook } = await import('../../../src/cost-model/price-book.ts');
  const { loadCatalog } = await import('../../../src/cost-model/catalog.ts');
  return new PriceBook(loadCatalog());
}

export type GceFixture = CloudFixture<GceEmulator, GcpComputeProvider>;

/** An emulator and an adapter over the real SDK client talking to it. */
export async function startGceFixture(
  opts: CloudFixtureOptions<GceEmulatorOptions, GcpComputeProviderOptions> = {},
): Promise<GceFixture> {
  const clock = opts.clock ?? systemClock;
  const emulator = await GceEmulator.start({ clock, ...opts.emulator, realism: { ...FAMILY_REALISM, ...opts.emulator?.realism } });
  const provider = new GcpComputeProvider({
    config: gceProviderConfig(emulator, { rateLimits: UNTHROTTLED, ...opts.config }),
    clock,
    logger: opts.logger ?? silentLogger(),
    accessToken: EMULATOR_ACCESS_TOKEN,
    priceBook: await catalogBook(),
    ...opts.provider,
  });
  return cloudFixture(emulator, provider, clock);
}

/** A launch request for one of the provider's offerings (e2-standard-2 on demand in us-central1-a unless picked). */
export function gceLaunchRequest(
  provider: GcpComputeProvider,
  pick: OfferingPick = {},
  overrides: Partial<LaunchRequest> = {},
): Promise<LaunchRequest> {
  return cloudLaunchRequest(
    provider,
    { instanceType: 'e2-standard-2', zone: 'us-central1-a', team: 'Vision' },
    pick,
    overrides,
  );
}
