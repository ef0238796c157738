import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import { seededRandom } from '../../src/core/random.ts';
import type { Task } from '../../src/core/task.ts';
import { ON_DEMAND_PRICES_USD } from '../emulators/ec2/catalog.ts';
import { Ec2Emulator } from '../emulators/ec2/ec2-emulator.ts';
import { GceEmulator } from '../emulators/gce/gce-emulator.ts';
import {
  assertGceNoDuplicateNoUnknown,
  gceProviderEntry,
  gceServeEnv,
  storeView,
} from '../emulators/gce/spillway-config.ts';
import { waitFor } from '../helpers/wait.ts';
import { PROVISIONER_FAILPOINTS } from './crash-rounds.ts';
import { assertEc2NoDuplicateNoUnknown, awsServeEnv, ec2ProviderEntry } from './ec2-cloud.ts';
import { adminClient, CLI, makeCloudCluster, query, Serves, tearDown, type Cluster } from './harness.ts';

const AGENT = [process.execPath, CLI, 'agent'];

describe('end to end: one pool of private, AWS (EC2 emulator) and GCE (GCE emulator) agents', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  let ec2: Ec2Emulator | undefined;
  let gce: GceEmulator | undefined;
  let client: ApiClient | undefined;
  let logDir: string | undefined;
  const serves = new Serves((c) => ({ ...gceServeEnv(c.dir), ...awsServeEnv(c.dir) }));

  afterEach(async () => {
    await tearDown({ client, serves, emulators: [ec2, gce], cluster, dirs: [logDir] });
    client = ec2 = gce = logDir = undefined;
  });

  it('runs tasks on all three without naming a location, and survives SIGKILL mid-burst with no duplicate or unknown instance', async () => {
    logDir = mkdtempSync(join(tmpdir(), 'spillway-e2e-xc-'));
    ec2 = await Ec2Emulator.start({
      bootMs: 300,
      bootScripts: { logDir: join(logDir, 'ec2'), shutdownGraceMs: 2_000 },
    });
    gce = await GceEmulator.start({
      bootMs: 300,
      bootScripts: { logDir: join(logDir, 'gce'), shutdownGraceMs: 2_000 },
    });
    const c = (cluster = await makeCloudCluster(
      [
        ec2ProviderEntry(ec2, {
          agentCommand: AGENT,
          instanceTypes: [
            { instanceType: 'c7i.large', cpu: 2, memory: '4Gi', pricePerHourUsd: ON_DEMAND_PRICES_USD['c7i.large'] },
          ],
        }),
        gceProviderEntry(gce, { dir: logDir, agentCommand: AGENT, zones: ['us-central1-a'] }),
      ],
      {
        spot: { allowed: false },
        // GCE is the cheaper cloud: one instance there, the rest of the burst goes to AWS.
        providerLimits: { 'gcp-compute:us-central1': { maxInstances: 1, maxVcpus: 2, maxGpus: 0 } },
      },
      {
        pool: {
          heartbeatIntervalMs: 300,
          lostAfterMs: 5_000,
          privateAgents: { count: 1, cpu: 1, memory: '1Gi', site: 'lab' },
        },
      },
    ));

    // The controller dies at a seeded failpoint: before or after its first cloud launch call, or before or after its
    // first terminate call (then the burst was done and the restarted controller finishes the scale-down).
    const seed = Number(process.env.SPILLWAY_E2E_SEED ?? Math.floor(Math.random() * 1_000_000));
    const point = PROVISIONER_FAILPOINTS[Math.floor(seededRandom(seed)() * PROVISIONER_FAILPOINTS.length)]!;
    console.log(
      `      cross-cloud crash seed: ${seed}, SIGKILL at ${point}=kill@1 (replay with SPILLWAY_E2E_SEED=${seed})`,
    );
    const crashing = await serves.startHealthy(c, 'crashing', { SPILLWAY_FAILPOINTS: `${point}=kill@1` });
    client = adminClient(c);
    await waitFor(
      'the private agent',
      () => query(c, `SELECT id FROM agents WHERE state = 'registered'`).length === 1,
      { timeoutMs: 30_000 },
    );
    // Tasks that wait at a gate the test opens only once all seven run at once (1 private + 2 on GCE + 4 on AWS): no
    // task can end and free an AWS slot before the GCE agent registers, however slow the machine, so all three
    // locations run work. The gate opens meanwhile, whichever controller (the crashing one or its successor) leads.
    const gate = join(logDir, 'gate');
    chmodSync(logDir, 0o755);
    const gated = ['/bin/sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.2; done`];
    await client.post('/v1/tasks', {
      tasks: Array.from({ length: 7 }, () => ({ command: gated, resources: { cpu: 1, memory: '256Mi' } })),
    });
    const allRunning = waitFor(
      'all seven tasks running at once',
      () => query<{ id: string }>(c, `SELECT id FROM tasks WHERE state = 'running'`).length === 7,
      { timeoutMs: 180_000, intervalMs: 250 },
    ).then(() => writeFileSync(gate, ''));
    // Awaited below, once the restarted controller listens; a failure before then must not go unhandled meanwhile.
    allRunning.catch(() => undefined);
    await waitFor(`the controller to die at ${point}`, () => crashing.child.signalCode === 'SIGKILL', {
      timeoutMs: 180_000,
    });
    assert.match(crashing.log(), new RegExp(`failpoint ${point.replace('.', '\\.')}`));

    await serves.startHealthy(c, 'restarted');
    await allRunning;
    const tasks = await waitFor(
      'every task to succeed',
      async () => {
        const list = (await client!.get<{ tasks: Task[] }>('/v1/tasks?limit=100')).tasks;
        return list.length === 7 && list.every((t) => t.state === 'succeeded') ? list : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );

    const locations = new Map(
      query<{ id: string; location: string }>(c, 'SELECT id, location FROM agents').map((a) => [
        a.id,
        JSON.parse(a.location) as { kind: string; provider?: string },
      ]),
    );
    const where = new Set(
      tasks.map((t) => {
        const l = locations.get(t.agentId!)!;
        return l.kind === 'private' ? 'private' : l.provider!;
      }),
    );
    assert.deepEqual(
      [...where].sort(),
      ['aws-ec2', 'gcp-compute', 'private'],
      'tasks ran on private, AWS and GCE agents',
    );

    await waitFor(
      'both clouds to scale back to zero',
      () => ec2!.liveInstances().length === 0 && gce!.instances().length === 0,
      {
        timeoutMs: 60_000,
      },
    );
    assertEc2NoDuplicateNoUnknown(ec2, c);
    assertGceNoDuplicateNoUnknown(
      gce,
      storeView((sql) => query(c, sql)),
    );
    assert.ok(gce.history().length >= 1 && ec2.instances().length >= 1, 'both clouds were used');
  });
});
