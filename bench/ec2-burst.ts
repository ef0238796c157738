/**
 * EC2 burst: 2,000 instances asked for at once. The real controller (SQLite store, planner, provisioner, the AWS
 * adapter over the real SDK) and the EC2 emulator share one stepped virtual clock, with EC2's documented buckets
 * enforced and no agent processes. Measures throttling (target: no RequestLimitExceeded), the virtual time to launch
 * everything against the floor EC2's buckets allow (target: within 1.05 times), and API calls per instance launched
 * (target: at most 0.05).
 *
 *   npm run bench -- ec2-burst            (or --quick for 1,200 instances)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../src/autoscaler/controller.ts';
import { ManualClock } from '../src/core/clock.ts';
import { PRODUCTION_POLICY } from '../src/core/policy.ts';
import { resources } from '../src/core/resources.ts';
import { silentLogger } from '../src/log/logger.ts';
import { BuiltinPool } from '../src/pool/builtin/builtin-pool.ts';
import { AwsEc2Provider } from '../src/providers/aws-ec2/aws-ec2-provider.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { asyncSqliteStore } from '../src/store/sqlite/async-sqlite-store.ts';
import { EMULATOR_CREDENTIALS, Ec2Emulator } from '../test/emulators/ec2/ec2-emulator.ts';
import { EC2_BUCKETS } from '../test/emulators/ec2/emulator-buckets.ts';
import { providerConfig, quiet } from '../test/providers/aws-ec2/fixture.ts';
import { round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';

const CLUSTER = 'bench';

/** The seconds EC2's RunInstances buckets need, at the least, to let `instances` launch from full buckets. */
export function bucketFloorSeconds(instances: number, calls: number): number {
  const byInstances =
    Math.max(0, instances - EC2_BUCKETS.runInstancesInstances.capacity) /
    EC2_BUCKETS.runInstancesInstances.refillPerSecond;
  const byRequests =
    Math.max(0, calls - EC2_BUCKETS.runInstancesRequests.capacity) / EC2_BUCKETS.runInstancesRequests.refillPerSecond;
  return Math.max(byInstances, byRequests);
}

export async function runEc2Burst(ctx: BenchContext): Promise<BenchResult> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const target = ctx.quick ? 1_200 : 2_000;
  const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-ec2-'));
  const clock = new ManualClock();
  const startMs = clock.now();
  const store = openSqliteStore(join(dir, 'spillway.db'));
  const emulator = await Ec2Emulator.start({ clock, bootMs: 30_000 });
  const logger = silentLogger();
  const aws = new AwsEc2Provider({
    // Production defaults but for the endpoint: a price refresh at start, then every 10 minutes.
    config: providerConfig(emulator, { priceRefreshMs: 600_000, requestTimeoutMs: 30_000 }),
    clock,
    logger,
    credentials: EMULATOR_CREDENTIALS,
  });
  const controller = new Controller({
    store: asyncSqliteStore(store),
    pool: new BuiltinPool({ store: asyncSqliteStore(store), logger, lostAfterMs: 10_000 }),
    providers: [aws],
    clock,
    logger,
    // The production defaults of `controller:` in spillway.yaml.
    settings: { passIntervalMs: 1_000, reconcileEveryPasses: 10, leaseTtlMs: 15_000, unavailableForMs: 180_000 },
    identity: {
      holderId: 'bench',
      launch: {
        clusterId: CLUSTER,
        controllerUrl: 'http://127.0.0.1:1',
        caBundle: '',
        serverSecret: Buffer.alloc(32, 1),
      },
    },
  });
  try {
    store.meta.bindClusterId(CLUSTER);
    store.policy.seed(
      {
        ...PRODUCTION_POLICY,
        pendingGraceMs: 0,
        limits: { maxInstances: 10_000, maxVcpus: 100_000, maxGpus: 0 },
      },
      clock.now(),
    );
    // Each task needs a whole c7i.large (2 vCPU, 4 GiB), the cheapest type: one launch of `target` instances.
    const task = {
      owner: { team: 'bench', project: 'burst', job: 'ec2' },
      resources: resources({ cpuMillis: 2_000, memoryMiB: 3_072 }),
      priority: 0,
      revocable: false,
      constraints: {},
      command: ['true'],
    };
    store.tasks.insert(
      Array.from({ length: target }, () => task),
      clock.now(),
    );
    ctx.log(`ec2-burst: ${target} tasks of one c7i.large each, asked for at once`);

    controller.start();
    let lastReport = 0;
    const launched = (): number => emulator.instances().length;
    while (launched() < target || store.intents.open().length > 0) {
      await quiet(emulator);
      const next = clock.nextWakeAt();
      if (next === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      clock.set(next);
      const virtualS = (clock.now() - startMs) / 1000;
      if (virtualS - lastReport >= 100) {
        lastReport = virtualS;
        ctx.log(`  ${virtualS.toFixed(0)} s virtual: ${launched()} instances`);
      }
      if (virtualS > 3_600) throw new Error(`ec2-burst: only ${launched()} of ${target} instances after an hour`);
    }
    const runCalls = emulator.calls.filter((c) => c.action === 'RunInstances' && c.status === 200);
    const lastLaunchMs = Math.max(...runCalls.map((c) => c.atMs));
    const virtualSeconds = (lastLaunchMs - startMs) / 1000;
    const floorSeconds = bucketFloorSeconds(target, runCalls.length);
    const byAction: Record<string, number> = {};
    for (const c of emulator.calls) byAction[c.action] = (byAction[c.action] ?? 0) + 1;
    const metrics = {
      instances: launched(),
      requestLimitExceeded: emulator.callsWith('RequestLimitExceeded').length,
      virtualSeconds: round(virtualSeconds, 1),
      floorSeconds: round(floorSeconds, 1),
      timeOverFloor: round(floorSeconds === 0 ? 1 : virtualSeconds / floorSeconds, 4),
      apiCalls: emulator.calls.length,
      apiCallsPerInstance: round(emulator.calls.length / launched(), 4),
      runInstancesCalls: runCalls.length,
    };
    ctx.log(`  calls by action: ${JSON.stringify(byAction)}`);
    return {
      metrics,
      targets: [
        { metric: 'requestLimitExceeded', max: 0 },
        { metric: 'timeOverFloor', max: 1.05 },
        { metric: 'apiCallsPerInstance', max: 0.05 },
      ],
      details: {
        callsByAction: byAction,
        settings: { passIntervalMs: 1_000, reconcileEveryPasses: 10, priceRefreshMs: 600_000 },
      },
    };
  } finally {
    await controller.stop();
    aws.close();
    await emulator.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: 'ec2-burst',
  description:
    '2,000 EC2 instances at once on a virtual clock with EC2 buckets: throttles, time over floor, calls per instance',
  run: runEc2Burst,
};
