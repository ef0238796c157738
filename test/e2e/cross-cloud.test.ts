import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import type { Task } from '../../src/core/task.ts';
import { TAG_INTENT } from '../../src/providers/aws-ec2/launch-input.ts';
import { ON_DEMAND_PRICES_USD } from '../emulators/ec2/catalog.ts';
import {
  DEFAULT_LAUNCH_TEMPLATE,
  DEFAULT_SUBNETS,
  EMULATOR_CREDENTIALS,
  Ec2Emulator,
} from '../emulators/ec2/ec2-emulator.ts';
import { GceEmulator } from '../emulators/gce/gce-emulator.ts';
import {
  assertGceNoDuplicateNoUnknown,
  gceProviderEntry,
  gceServeEnv,
  storeView,
} from '../emulators/gce/spillway-config.ts';
import { waitFor } from '../helpers/wait.ts';
import { adminClient, cleanup, CLI, makeCluster, query, ServeProcess, waitHealthy, type Cluster } from './harness.ts';

const AGENT = [process.execPath, CLI, 'agent'];

describe('end to end: one pool of private, AWS (EC2 emulator) and GCE (GCE emulator) agents', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  let ec2: Ec2Emulator | undefined;
  let gce: GceEmulator | undefined;
  let serves: ServeProcess[] = [];
  let client: ApiClient | undefined;
  let logDir: string | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    for (const s of serves) await s.stop('SIGKILL').catch(() => undefined);
    await ec2?.close();
    await gce?.close();
    ec2 = gce = undefined;
    await cleanup(
      cluster,
      serves.map((s) => s.child),
    );
    serves = [];
    if (logDir && !process.env.SPILLWAY_KEEP_E2E) rmSync(logDir, { recursive: true, force: true });
    logDir = undefined;
  });

  function serve(c: Cluster, name: string, env: Record<string, string> = {}): ServeProcess {
    const s = new ServeProcess(c, {
      name,
      env: {
        ...gceServeEnv(c.dir),
        AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(c.dir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(c.dir, 'no-aws-credentials'),
        ...env,
      },
    });
    serves.push(s);
    return s;
  }

  /** No EC2 instance launched twice or unknown to the store, over the emulator's history. */
  function assertEc2NoDuplicateNoUnknown(c: Cluster): void {
    const { launches, knownInstanceIds } = storeView((sql) => query(c, sql));
    const perIntent = new Map<string, number>();
    for (const instance of ec2!.instances()) {
      const intentId = instance.tags.get(TAG_INTENT) ?? '';
      assert.ok(
        launches.has(intentId),
        `EC2 instance ${instance.id} carries intent ${intentId}, which the store knows`,
      );
      assert.ok(knownInstanceIds.has(instance.id), `EC2 instance ${instance.id} is known to the store`);
      perIntent.set(intentId, (perIntent.get(intentId) ?? 0) + 1);
    }
    for (const [intentId, n] of perIntent)
      assert.ok(n <= launches.get(intentId)!, `intent ${intentId}: ${n} EC2 instances`);
  }

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
    const c = (cluster = await makeCluster({
      pool: {
        heartbeatIntervalMs: 300,
        lostAfterMs: 5_000,
        privateAgents: { count: 1, cpu: 1, memory: '1Gi', site: 'lab' },
      },
      providers: [
        {
          kind: 'aws-ec2',
          region: ec2.region,
          endpoint: ec2.url,
          launchTemplate: { id: DEFAULT_LAUNCH_TEMPLATE.id },
          subnets: DEFAULT_SUBNETS.map((s) => ({ id: s.id, zone: s.zone })),
          instanceTypes: [
            { instanceType: 'c7i.large', cpu: 2, memory: '4Gi', pricePerHourUsd: ON_DEMAND_PRICES_USD['c7i.large'] },
          ],
          bootMs: 2_000,
          bootScript: { agentCommand: AGENT },
          requestTimeoutMs: 5_000,
          priceRefreshMs: 0,
        },
        gceProviderEntry(gce, { dir: logDir, agentCommand: AGENT, zones: ['us-central1-a'] }),
      ],
      policy: {
        pendingGraceMs: 1_000,
        idleTtlMs: 2_000,
        maxProvisionMs: 30_000,
        unknownInstanceGraceMs: 30_000,
        spot: { allowed: false },
        limits: { maxInstances: 6, maxVcpus: 24, maxGpus: 0 },
        // GCE is the cheaper cloud: one instance there, the rest of the burst goes to AWS.
        providerLimits: { 'gcp-compute:us-central1': { maxInstances: 1, maxVcpus: 2, maxGpus: 0 } },
      },
    }));

    // The controller dies right after its first cloud launch returns, before it records the result.
    const crashing = serve(c, 'crashing', { SPILLWAY_FAILPOINTS: 'provider.returned=kill@1' });
    await waitHealthy(c.url, crashing);
    client = adminClient(c);
    await waitFor(
      'the private agent',
      () => query(c, `SELECT id FROM agents WHERE state = 'registered'`).length === 1,
      { timeoutMs: 30_000 },
    );
    const spec = {
      tasks: Array.from({ length: 7 }, () => ({
        command: [process.execPath, '-e', 'setTimeout(() => {}, 5000)'],
        resources: { cpu: 1, memory: '256Mi' },
      })),
    };
    await client.post('/v1/tasks', spec);
    await waitFor('the controller to die at provider.returned', () => crashing.child.signalCode === 'SIGKILL', {
      timeoutMs: 60_000,
    });
    assert.match(crashing.log(), /failpoint provider\.returned/);

    const restarted = serve(c, 'restarted');
    await waitHealthy(c.url, restarted);
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
    assertEc2NoDuplicateNoUnknown(c);
    assertGceNoDuplicateNoUnknown(
      gce,
      storeView((sql) => query(c, sql)),
    );
    assert.ok(gce.history().length >= 1 && ec2.instances().length >= 1, 'both clouds were used');
  });
});
