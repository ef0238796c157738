import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import { Ec2Emulator } from '../emulators/ec2/ec2-emulator.ts';
import { runCrashRounds } from './crash-rounds.ts';
import { assertEc2NoDuplicateNoUnknown, awsServeEnv, ec2ProviderEntry } from './ec2-cloud.ts';
import { adminClient, CLI, makeCloudCluster, Serves, tearDown, type Cluster } from './harness.ts';
import { burstToZero, interruptSpotTask } from './cloud-scenarios.ts';

describe('end to end: bursting to EC2 (the emulator) with real agents', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  let emulator: Ec2Emulator | undefined;
  let client: ApiClient | undefined;
  let logDir: string | undefined;
  const serves = new Serves((c) => awsServeEnv(c.dir));

  afterEach(async () => {
    await tearDown({ client, serves, emulators: [emulator], cluster, dirs: [logDir] });
    client = emulator = logDir = undefined;
  });

  /** The emulator (running instances' boot scripts) and a cluster whose only cloud is the emulated EC2. */
  async function setUp(policy: Record<string, unknown> = {}): Promise<Cluster> {
    logDir = mkdtempSync(join(tmpdir(), 'spillway-e2e-ec2-'));
    emulator = await Ec2Emulator.start({ bootMs: 300, bootScripts: { logDir, shutdownGraceMs: 2_000 } });
    cluster = await makeCloudCluster(
      [ec2ProviderEntry(emulator, { agentCommand: [process.execPath, CLI, 'agent'] })],
      policy,
    );
    return cluster;
  }

  it('bursts, runs the work on agents the instances started, and scales back to zero', async () => {
    const c = await setUp();
    const serve = await serves.startHealthy(c, 'serve');
    client = adminClient(c);
    const agentsUsed = await burstToZero(client, c, {
      count: 6,
      cloud: 'cloud',
      liveInstances: () => emulator!.liveInstances().length,
      serveLog: () => serve.log(),
      maxInstances: 3, // two-CPU types
    });
    assert.ok(agentsUsed.length >= 1);
    assertEc2NoDuplicateNoUnknown(emulator!, c);
    assert.deepEqual(emulator!.callsWith('RequestLimitExceeded'), []);
  });

  it('survives SIGKILL at seeded random failpoints: no duplicate, no unknown instance, every task completes', async () => {
    const c = await setUp();
    const { seed, killedAt, rounds } = await runCrashRounds({
      name: 'aws-burst',
      cluster: c,
      serves,
      client: () => (client ??= adminClient(c)),
      cloud: 'the cloud',
      liveInstances: () => emulator!.liveInstances().length,
      assertClean: () => assertEc2NoDuplicateNoUnknown(emulator!, c),
    });
    assert.equal(
      killedAt,
      rounds,
      `the controller died at its failpoint in ${killedAt} of ${rounds} rounds (seed ${seed})`,
    );
    assert.ok(rounds >= 4, 'every provisioner failpoint had a round');
    assert.deepEqual(emulator!.callsWith('RequestLimitExceeded'), []);
  });

  it('moves work off a spot instance EC2 interrupts: the agent tells the controller, which replaces it at once', async () => {
    const c = await setUp();
    const s = await serves.startHealthy(c, 'serve');
    client = adminClient(c);
    await interruptSpotTask(client, c, {
      vm: 'a spot instance',
      interrupt: (id) => emulator!.interrupt(id),
      replaced: (id) => emulator!.liveInstances().some((i) => i.id !== id),
    });
    assert.match(s.log(), /draining agent on interruption notice/);
  });
});
