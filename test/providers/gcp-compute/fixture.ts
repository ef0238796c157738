import { systemClock, type Clock, type ManualClock } from '../../../src/core/clock.ts';
import { bootstrapCredential } from '../../../src/core/credentials.ts';
import { newIntentId } from '../../../src/core/ids.ts';
import type { Offering } from '../../../src/core/offering.ts';
import { gcpComputeProviderSchema, type GcpComputeProviderConfig } from '../../../src/config/schema.ts';
import { silentLogger, type Logger } from '../../../src/log/logger.ts';
import {
  GcpComputeProvider,
  type GcpComputeProviderOptions,
} from '../../../src/providers/gcp-compute/gcp-compute-provider.ts';
import type { LaunchRequest } from '../../../src/providers/provider.ts';
import {
  DEFAULT_TEMPLATE,
  DEFAULT_ZONES,
  EMULATOR_ACCESS_TOKEN,
  GceEmulator,
  type GceEmulatorOptions,
} from '../../emulators/gce/gce-emulator.ts';

// Google's libraries must never probe the metadata server; credentials and endpoint are explicit below.
process.env.METADATA_SERVER_DETECTION = 'none';

export const CLUSTER = 'test-cluster';
export const SERVER_SECRET = Buffer.alloc(32, 7);

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

/**
 * Runs `work` while stepping `clock` to each next sleeper once the process has gone quiet (no open emulator request),
 * so code waiting on the clock moves on without real waiting.
 */
export async function drive<T>(clock: ManualClock, emulator: GceEmulator, work: Promise<T>): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  while (!settled) {
    let calm = 0;
    while (calm < 20 && !settled) {
      await new Promise((resolve) => setImmediate(resolve));
      calm = emulator.openRequests() === 0 ? calm + 1 : 0;
    }
    if (settled) break;
    const next = clock.nextWakeAt();
    if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
    else clock.set(next);
  }
  return done;
}

export interface GceFixture {
  readonly emulator: GceEmulator;
  readonly provider: GcpComputeProvider;
  readonly clock: Clock;
  close(): Promise<void>;
}

/** An emulator and an adapter over the real SDK client talking to it. */
export async function startGceFixture(
  opts: {
    emulator?: GceEmulatorOptions;
    config?: Record<string, unknown>;
    provider?: Partial<GcpComputeProviderOptions>;
    clock?: Clock;
    logger?: Logger;
  } = {},
): Promise<GceFixture> {
  const clock = opts.clock ?? systemClock;
  const emulator = await GceEmulator.start({ clock, ...opts.emulator });
  const provider = new GcpComputeProvider({
    config: gceProviderConfig(emulator, { rateLimits: UNTHROTTLED, ...opts.config }),
    clock,
    logger: opts.logger ?? silentLogger(),
    accessToken: EMULATOR_ACCESS_TOKEN,
    priceBook: await catalogBook(),
    ...opts.provider,
  });
  return {
    emulator,
    provider,
    clock,
    async close() {
      await provider.close();
      await emulator.close();
    },
  };
}

/** A launch request for one of the provider's offerings. */
export async function gceLaunchRequest(
  provider: GcpComputeProvider,
  pick: { instanceType?: string; zone?: string; lifecycle?: Offering['lifecycle'] } = {},
  overrides: Partial<LaunchRequest> = {},
): Promise<LaunchRequest> {
  const offering = (await provider.offerings()).find(
    (o) =>
      o.instanceType === (pick.instanceType ?? 'e2-standard-2') &&
      o.zone === (pick.zone ?? 'us-central1-a') &&
      o.lifecycle === (pick.lifecycle ?? 'on-demand'),
  );
  if (!offering) throw new Error(`no offering ${JSON.stringify(pick)}`);
  const intentId = overrides.intentId ?? newIntentId();
  return {
    intentId,
    clusterId: CLUSTER,
    offering,
    count: 1,
    owner: { team: 'Vision', project: 'detector', job: 'train-7' },
    bootstrap: {
      controllerUrl: 'http://127.0.0.1:7070',
      caBundle: '',
      credential: bootstrapCredential(SERVER_SECRET, intentId),
    },
    ...overrides,
  };
}
