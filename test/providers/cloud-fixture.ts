import type { Clock, ManualClock } from '../../src/core/clock.ts';
import { bootstrapCredential } from '../../src/core/credentials.ts';
import { newIntentId } from '../../src/core/ids.ts';
import type { Offering } from '../../src/core/offering.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { LaunchRequest } from '../../src/providers/provider.ts';

/**
 * The realism every adapter test family runs in unless it asks for more: the emulator ignores list filters, so every
 * list the adapters make answers with everything in the account and only their own ownership check keeps them right.
 */
export const FAMILY_REALISM = { ignoreFilters: true } as const;

/** What the EC2 and GCE adapter fixtures share: the cluster, the server secret, clock driving, launch requests. */
export const CLUSTER = 'test-cluster';
export const SERVER_SECRET = Buffer.alloc(32, 7);

/** An emulator that counts the requests it has not answered yet. */
export interface CountsOpenRequests {
  openRequests(): number;
}

/**
 * Resolves after `turns` turns of the event loop in a row with no emulator request open, or as soon as `stop()`
 * says so.
 */
export async function quiet(
  emulator: CountsOpenRequests,
  turns = 20,
  stop: () => boolean = () => false,
): Promise<void> {
  let calm = 0;
  while (calm < turns && !stop()) {
    await new Promise((resolve) => setImmediate(resolve));
    calm = emulator.openRequests() === 0 ? calm + 1 : 0;
  }
}

/**
 * Runs `work` while stepping `clock` to each next sleeper once the process has gone quiet (no open emulator request),
 * so code waiting on the clock (buckets, boots) moves on without real waiting. Returns what `work` returns.
 */
export async function drive<T>(clock: ManualClock, emulator: CountsOpenRequests, work: Promise<T>): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  while (!settled) {
    await quiet(emulator, 20, () => settled);
    if (settled) break;
    const next = clock.nextWakeAt();
    if (next === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
    else clock.set(next);
  }
  return done;
}

/** Which offering a launch request is for; what is left out comes from the cloud's defaults. */
export interface OfferingPick {
  instanceType?: string;
  zone?: string;
  lifecycle?: Offering['lifecycle'];
}

/**
 * A launch request for one of `provider`'s offerings (`pick` over `defaults`; on-demand unless picked otherwise), for
 * one instance of team `defaults.team`'s job, with a bootstrap credential for its intent; `overrides` go on top.
 */
export async function cloudLaunchRequest(
  provider: { offerings(): Promise<Offering[]> },
  defaults: { readonly instanceType: string; readonly zone: string; readonly team: string },
  pick: OfferingPick = {},
  overrides: Partial<LaunchRequest> = {},
): Promise<LaunchRequest> {
  const offering = (await provider.offerings()).find(
    (o) =>
      o.instanceType === (pick.instanceType ?? defaults.instanceType) &&
      o.zone === (pick.zone ?? defaults.zone) &&
      o.lifecycle === (pick.lifecycle ?? 'on-demand'),
  );
  if (!offering) throw new Error(`no offering ${JSON.stringify(pick)}`);
  const intentId = overrides.intentId ?? newIntentId();
  return {
    intentId,
    clusterId: CLUSTER,
    offering,
    count: 1,
    owner: { team: defaults.team, project: 'detector', job: 'train-7' },
    bootstrap: {
      controllerUrl: 'http://127.0.0.1:7070',
      caBundle: '',
      credential: bootstrapCredential(SERVER_SECRET, intentId),
    },
    ...overrides,
  };
}

/** An emulator and an adapter over the real SDK client talking to it, on `clock`; `close` ends both. */
export interface CloudFixture<E, P> {
  readonly emulator: E;
  readonly provider: P;
  readonly clock: Clock;
  close(): Promise<void>;
}

/** What a test may set of a cloud fixture: emulator options, config overrides, adapter options, clock, logger. */
export interface CloudFixtureOptions<EmulatorOptions, ProviderOptions> {
  emulator?: EmulatorOptions;
  config?: Record<string, unknown>;
  provider?: Partial<ProviderOptions>;
  clock?: Clock;
  logger?: Logger;
}

/** The fixture of `emulator` and `provider`: closing it closes the adapter, then the emulator. */
export function cloudFixture<E extends { close(): Promise<void> }, P extends { close(): unknown }>(
  emulator: E,
  provider: P,
  clock: Clock,
): CloudFixture<E, P> {
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
