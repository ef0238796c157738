import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'mocha';
import { Controller } from '../../../src/autoscaler/controller.ts';
import { systemClock } from '../../../src/core/clock.ts';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import { PRODUCTION_POLICY } from '../../../src/core/policy.ts';
import { resources } from '../../../src/core/resources.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { BuiltinPool } from '../../../src/pool/builtin/builtin-pool.ts';
import { AwsEc2Provider } from '../../../src/providers/aws-ec2/aws-ec2-provider.ts';
import { TAG_INTENT } from '../../../src/providers/aws-ec2/launch-input.ts';
import { openSqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../../src/store/store.ts';
import { EMULATOR_CREDENTIALS, Ec2Emulator } from '../../emulators/ec2/ec2-emulator.ts';
import { CLUSTER, providerConfig } from './fixture.ts';
import { asyncOf } from '../../helpers/async-store.ts';

const CHILD = fileURLToPath(new URL('../fixtures/launch-controller.ts', import.meta.url));
const COUNT = 3;

describe('a controller killed after the launch call and before its answer is recorded', () => {
  let dir: string | undefined;
  let emulator: Ec2Emulator | undefined;
  let store: Store | undefined;
  let aws: AwsEc2Provider | undefined;
  let controller: Controller | undefined;

  afterEach(async () => {
    await controller?.stop();
    aws?.close();
    store?.close();
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = emulator = store = aws = controller = undefined;
  });

  it(`restarted against EC2 that ignores ClientTokens: exactly ${COUNT} instances exist, adopted, none sent twice`, async () => {
    emulator = await Ec2Emulator.start({ realism: { idempotency: 'ignored', ignoreFilters: true } });
    dir = mkdtempSync(join(tmpdir(), 'spillway-launch-crash-'));
    const path = join(dir, 'spillway.db');
    const seed = openSqliteStore(path);
    seed.meta.bindClusterId(CLUSTER);
    seed.policy.seed({ ...PRODUCTION_POLICY, pendingGraceMs: 0, maxProvisionMs: 3_600_000 }, Date.now());
    // Three tasks of two CPUs: one launch intent of three c7i.large.
    const task = {
      owner: { team: 'vision', project: 'detector', job: 'train' },
      resources: resources({ cpuMillis: 2_000, memoryMiB: 2_048 }),
      priority: 0,
      revocable: false,
      constraints: {},
      command: ['true'],
    };
    seed.tasks.insert(
      Array.from({ length: COUNT }, () => task),
      Date.now(),
    );
    seed.close();

    const child = spawn(process.execPath, [CHILD, path, emulator.url], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SPILLWAY_FAILPOINTS: 'provider.returned=kill' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL', `the child died at the failpoint (exit ${code}): ${stderr}`);
    assert.match(stderr, /failpoint provider\.returned/);

    store = openSqliteStore(path);
    const [intent] = store.intents.launches(0);
    assert.deepEqual([intent!.state, intent!.count, intent!.instanceIds.length], ['pending', COUNT, 0], 'not recorded');
    assert.equal(emulator.instances().length, COUNT, 'the launch call took effect');

    store.lease.release('controller', 'crashing-controller');
    const logger = silentLogger();
    aws = new AwsEc2Provider({
      config: providerConfig(emulator, { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] }),
      clock: systemClock,
      logger,
      credentials: EMULATOR_CREDENTIALS,
    });
    controller = new Controller({
      store: asyncOf(store),
      pool: new BuiltinPool({ store: asyncOf(store), logger, lostAfterMs: 3_600_000 }),
      providers: [aws],
      clock: systemClock,
      logger,
      settings: { passIntervalMs: 50, reconcileEveryPasses: 1, leaseTtlMs: 60_000, unavailableForMs: 180_000 },
      identity: {
        holderId: 'restarted-controller',
        launch: {
          clusterId: CLUSTER,
          controllerUrl: 'http://127.0.0.1:1',
          caBundle: '',
          serverSecret: store.meta.serverSecret(),
        },
      },
    });
    for (let pass = 0; pass < 5; pass++) {
      await controller.runPass();
      await controller.settle();
    }

    assert.equal(emulator.instances().length, COUNT, `exactly ${COUNT} instances exist`);
    assert.equal(emulator.calls.filter((c) => c.action === 'RunInstances').length, 1, 'no launch was sent again');
    const done = store.intents.get(intent!.id) as LaunchIntent;
    assert.equal(done.state, 'done');
    assert.deepEqual(
      [...done.instanceIds].sort(),
      emulator
        .instances()
        .map((i) => i.id)
        .sort(),
    );
    for (const i of emulator.instances()) assert.equal(i.tags.get(TAG_INTENT), intent!.id);
    assert.equal(store.intents.launches(0).length, 1, 'no second plan');
  });
});
