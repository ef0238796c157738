import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import { GceEmulator } from '../emulators/gce/gce-emulator.ts';
import {
  assertGceNoDuplicateNoUnknown,
  gceProviderEntry,
  gceServeEnv,
  storeView,
} from '../emulators/gce/spillway-config.ts';
import { runCrashRounds } from './crash-rounds.ts';
import { adminClient, CLI, makeCloudCluster, query, Serves, tearDown, type Cluster } from './harness.ts';
import { burstToZero, interruptSpotTask } from './cloud-scenarios.ts';

describe('end to end: bursting to GCE (the emulator) with real agents', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  let emulator: GceEmulator | undefined;
  let client: ApiClient | undefined;
  let logDir: string | undefined;
  const serves = new Serves((c) => gceServeEnv(c.dir));

  afterEach(async () => {
    await tearDown({ client, serves, emulators: [emulator], cluster, dirs: [logDir] });
    client = emulator = logDir = undefined;
  });

  async function setUp(policy: Record<string, unknown> = {}): Promise<Cluster> {
    logDir = mkdtempSync(join(tmpdir(), 'spillway-e2e-gce-'));
    emulator = await GceEmulator.start({ bootMs: 300, bootScripts: { logDir, shutdownGraceMs: 2_000 } });
    cluster = await makeCloudCluster(
      [gceProviderEntry(emulator, { dir: logDir, agentCommand: [process.execPath, CLI, 'agent'] })],
      policy,
    );
    return cluster;
  }

  it('bursts, runs the work on agents the instances started, and scales back to zero', async () => {
    const c = await setUp();
    const serve = await serves.startHealthy(c, 'serve');
    client = adminClient(c);
    const used = await burstToZero(client, c, {
      count: 5,
      cloud: 'GCE',
      liveInstances: () => emulator!.instances().length,
      serveLog: () => serve.log(),
    });
    assert.ok(used.length >= 1 && used.every((a) => JSON.parse(a.location).provider === 'gcp-compute'));
    assertGceNoDuplicateNoUnknown(
      emulator!,
      storeView((sql) => query(c, sql)),
    );
    assert.deepEqual(
      emulator!.calls.filter((call) => call.reason === 'rateLimitExceeded'),
      [],
    );
  });

  it('survives SIGKILL at seeded random failpoints: no duplicate, no unknown instance, every task completes', async () => {
    const c = await setUp();
    const { seed, killedAt, rounds } = await runCrashRounds({
      name: 'gce-burst',
      cluster: c,
      serves,
      client: () => (client ??= adminClient(c)),
      cloud: 'GCE',
      liveInstances: () => emulator!.instances().length,
      assertClean: () =>
        assertGceNoDuplicateNoUnknown(
          emulator!,
          storeView((sql) => query(c, sql)),
        ),
    });
    assert.equal(
      killedAt,
      rounds,
      `the controller died at its failpoint in ${killedAt} of ${rounds} rounds (seed ${seed})`,
    );
    assert.ok(rounds >= 4, 'every provisioner failpoint had a round');
  });

  it('moves work off a preempted Spot VM: the agent sees instance/preempted, the controller replaces it at once', async () => {
    const c = await setUp();
    await serves.startHealthy(c, 'serve');
    client = adminClient(c);
    const instanceId = await interruptSpotTask(client, c, {
      vm: 'a Spot VM',
      interrupt: (id) => emulator!.preempt(id),
      replaced: (id) => emulator!.liveInstances().some((i) => emulator!.instanceId(i) !== id),
    });
    assert.ok(
      emulator!.metadata.requests.some(
        (r) => r.instance === instanceId && r.path.endsWith('/instance/preempted') && r.waited,
      ),
      "the agent watched the metadata server's instance/preempted",
    );
  });
});
