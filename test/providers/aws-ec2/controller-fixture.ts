import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, type ControllerSettings } from '../../../src/autoscaler/controller.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { PRODUCTION_POLICY, type Policy } from '../../../src/core/policy.ts';
import { resources } from '../../../src/core/resources.ts';
import { silentLogger, type Logger } from '../../../src/log/logger.ts';
import { BuiltinPool } from '../../../src/pool/builtin/builtin-pool.ts';
import { AwsEc2Provider } from '../../../src/providers/aws-ec2/aws-ec2-provider.ts';
import type { CloudProvider } from '../../../src/providers/provider.ts';
import { openSqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import type { NewTask, Store } from '../../../src/store/store.ts';
import { EMULATOR_CREDENTIALS, Ec2Emulator, type Ec2EmulatorOptions } from '../../emulators/ec2/ec2-emulator.ts';
import { CLUSTER, providerConfig } from './fixture.ts';
import { FAMILY_REALISM } from '../cloud-fixture.ts';
import { asyncOf } from '../../helpers/async-store.ts';

export const PASS_MS = 1_000;

/** The real controller, a real SQLite store and the AWS adapter against the emulator, all on one manual clock. */
export interface ControllerFixture {
  readonly dir: string;
  readonly clock: ManualClock;
  readonly store: Store;
  readonly emulator: Ec2Emulator;
  readonly aws: AwsEc2Provider;
  readonly controller: Controller;
  /** Inserts tasks of `cpu` cores and `memory` MiB each. */
  submit(count: number, opts?: { cpuMillis?: number; memoryMiB?: number; revocable?: boolean }): string[];
  /** One pass, then waits for its cloud calls. */
  pass(): Promise<void>;
  close(): Promise<void>;
}

export async function startControllerFixture(
  opts: {
    emulator?: Ec2EmulatorOptions;
    config?: Record<string, unknown>;
    policy?: Partial<Policy>;
    settings?: Partial<ControllerSettings>;
    /** More providers beside the AWS one. */
    others?: (clock: ManualClock) => CloudProvider[];
    logger?: Logger;
  } = {},
): Promise<ControllerFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-aws-'));
  const clock = new ManualClock();
  const store = openSqliteStore(join(dir, 'spillway.db'));
  store.meta.bindClusterId(CLUSTER);
  store.policy.seed({ ...PRODUCTION_POLICY, pendingGraceMs: 0, ...opts.policy }, clock.now());
  const emulator = await Ec2Emulator.start({ clock, ...opts.emulator, realism: { ...FAMILY_REALISM, ...opts.emulator?.realism } });
  const logger = opts.logger ?? silentLogger();
  const aws = new AwsEc2Provider({
    config: providerConfig(emulator, opts.config),
    clock,
    logger,
    credentials: EMULATOR_CREDENTIALS,
  });
  const controller = new Controller({
    store: asyncOf(store),
    pool: new BuiltinPool({ store: asyncOf(store), logger, lostAfterMs: 3_600_000 }),
    providers: [aws, ...(opts.others?.(clock) ?? [])],
    clock,
    logger,
    settings: {
      passIntervalMs: PASS_MS,
      reconcileEveryPasses: 10,
      leaseTtlMs: 60_000,
      unavailableForMs: 180_000,
      ...opts.settings,
    },
    identity: {
      holderId: 'test-controller',
      launch: {
        clusterId: CLUSTER,
        controllerUrl: 'http://127.0.0.1:1',
        caBundle: '',
        serverSecret: store.meta.serverSecret(),
      },
    },
  });
  return {
    dir,
    clock,
    store,
    emulator,
    aws,
    controller,
    submit(count, t = {}) {
      const task: NewTask = {
        owner: { team: 'vision', project: 'detector', job: 'train' },
        resources: resources({ cpuMillis: t.cpuMillis ?? 1000, memoryMiB: t.memoryMiB ?? 2048 }),
        priority: 0,
        revocable: t.revocable ?? false,
        constraints: {},
        command: ['true'],
      };
      return store.tasks
        .insert(
          Array.from({ length: count }, () => task),
          clock.now(),
        )
        .map((x) => x.id);
    },
    async pass() {
      await controller.runPass();
      await controller.settle();
    },
    async close() {
      await controller.stop();
      aws.close();
      await emulator.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
