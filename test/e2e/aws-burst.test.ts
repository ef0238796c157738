import assert from 'node:assert/strict';
import { seededRandom } from '../../src/core/random.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import { ApiError, type ApiClient } from '../../src/api/client.ts';
import { SpillwayError } from '../../src/core/errors.ts';
import type { Task } from '../../src/core/task.ts';
import { TAG_INTENT } from '../../src/providers/aws-ec2/launch-input.ts';
import { DEFAULT_SPOT_PRICES_USD, ON_DEMAND_PRICES_USD } from '../emulators/ec2/catalog.ts';
import {
  DEFAULT_LAUNCH_TEMPLATE,
  DEFAULT_SUBNETS,
  EMULATOR_CREDENTIALS,
  Ec2Emulator,
} from '../emulators/ec2/ec2-emulator.ts';
import { waitFor } from '../helpers/wait.ts';
import { adminClient, cleanup, CLI, makeCluster, query, ServeProcess, waitHealthy, type Cluster } from './harness.ts';

/** The environment of every `spillway serve` here: explicit credentials, no metadata probes, no shared AWS files. */
function awsEnv(cluster: Cluster): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(cluster.dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(cluster.dir, 'no-aws-credentials'),
  };
}

/** An aws-ec2 provider pointing at the emulator, whose instances run the agent of this checkout. */
function awsProvider(emulator: Ec2Emulator): Record<string, unknown> {
  return {
    kind: 'aws-ec2',
    region: emulator.region,
    endpoint: emulator.url,
    launchTemplate: { id: DEFAULT_LAUNCH_TEMPLATE.id },
    subnets: DEFAULT_SUBNETS.map((s) => ({ id: s.id, zone: s.zone })),
    instanceTypes: ['c7i.large', 'm7i.large'].map((instanceType) => ({
      instanceType,
      cpu: 2,
      memory: instanceType === 'c7i.large' ? '4Gi' : '8Gi',
      pricePerHourUsd: ON_DEMAND_PRICES_USD[instanceType],
      spotPricePerHourUsd: DEFAULT_SPOT_PRICES_USD[instanceType],
    })),
    bootMs: 2_000,
    bootScript: { agentCommand: [process.execPath, CLI, 'agent'] },
    requestTimeoutMs: 5_000,
    priceRefreshMs: 0,
  };
}

function tasksSpec(count: number, ms: number, opts: { revocable?: boolean } = {}): unknown {
  return {
    tasks: Array.from({ length: count }, () => ({
      command: [process.execPath, '-e', `setTimeout(() => {}, ${ms})`],
      resources: { cpu: 1, memory: '256Mi' },
      ...(opts.revocable ? { revocable: true } : {}),
    })),
  };
}

describe('end to end: bursting to EC2 (the emulator) with real agents', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  let emulator: Ec2Emulator | undefined;
  let serves: ServeProcess[] = [];
  let client: ApiClient | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    for (const s of serves) await s.stop('SIGKILL').catch(() => undefined);
    await emulator?.close();
    emulator = undefined;
    await cleanup(
      cluster,
      serves.map((s) => s.child),
    );
    serves = [];
  });

  let logDir: string | undefined;
  afterEach(() => {
    if (logDir && !process.env.SPILLWAY_KEEP_E2E) rmSync(logDir, { recursive: true, force: true });
    logDir = undefined;
  });

  /** The emulator (running instances' boot scripts) and a cluster whose only cloud is the emulated EC2. */
  async function setUp(policy: Record<string, unknown> = {}): Promise<Cluster> {
    logDir = mkdtempSync(join(tmpdir(), 'spillway-e2e-ec2-'));
    emulator = await Ec2Emulator.start({ bootMs: 300, bootScripts: { logDir, shutdownGraceMs: 2_000 } });
    cluster = await makeCluster({
      controller: { passIntervalMs: 200, reconcileEveryPasses: 5, leaseTtlMs: 3_000, unavailableForMs: 30_000 },
      providers: [awsProvider(emulator)],
      policy: {
        pendingGraceMs: 1_000,
        idleTtlMs: 2_000,
        maxProvisionMs: 30_000,
        unknownInstanceGraceMs: 30_000,
        limits: { maxInstances: 6, maxVcpus: 24, maxGpus: 0 },
        ...policy,
      },
    });
    return cluster;
  }

  function serve(c: Cluster, name: string, env: Record<string, string> = {}): ServeProcess {
    const s = new ServeProcess(c, { env: { ...awsEnv(c), ...env }, name });
    serves.push(s);
    return s;
  }

  async function allTasks(): Promise<Task[]> {
    return (await client!.get<{ tasks: Task[] }>('/v1/tasks?limit=1000')).tasks;
  }

  /**
   * Submits `count` tasks to a controller that may die at a failpoint while it answers (a resumed terminate can reach
   * `provider.terminated` at start). The insert is one transaction, so the store holds all of them or none: the store
   * tells which. Returns false when the submission did not land and the server is gone: the caller sends it again
   * once a controller listens.
   */
  async function submitThroughCrashes(
    c: Cluster,
    server: ServeProcess,
    count: number,
    before: number,
  ): Promise<boolean> {
    const stored = (): number => query<{ n: number }>(c, 'SELECT count(*) AS n FROM tasks')[0]!.n;
    const dead = (): boolean => server.child.exitCode !== null || server.child.signalCode !== null;
    return waitFor('the submission to land or its server to die', async () => {
      if (stored() === before + count) return 'landed';
      assert.equal(stored(), before, 'a submission is stored whole or not at all');
      if (dead()) return 'lost';
      try {
        await client!.post('/v1/tasks', tasksSpec(count, 800));
        return 'landed';
      } catch (err) {
        if (!(err instanceof SpillwayError) || !err.retryable || err instanceof ApiError) throw err;
        console.log(`        the submission failed (${err.message}); the store decides whether it landed`);
        return undefined;
      }
    }).then((outcome) => outcome === 'landed');
  }

  /** No instance launched twice and none the store does not know: checked against the emulator's whole history. */
  function assertNoDuplicateNoUnknown(c: Cluster): void {
    const launches = query<{ id: string; count: number }>(c, `SELECT id, count FROM intents WHERE kind = 'launch'`);
    const counts = new Map(launches.map((l) => [l.id, l.count]));
    const known = new Set(
      query<{ instance_id: string }>(c, `SELECT instance_id FROM agents WHERE instance_id IS NOT NULL`).map(
        (r) => r.instance_id,
      ),
    );
    const perIntent = new Map<string, number>();
    for (const instance of emulator!.instances()) {
      const intentId = instance.tags.get(TAG_INTENT) ?? '';
      assert.ok(counts.has(intentId), `instance ${instance.id} carries intent ${intentId}, which the store knows`);
      assert.ok(known.has(instance.id), `instance ${instance.id} (${instance.state}) is known to the store`);
      perIntent.set(intentId, (perIntent.get(intentId) ?? 0) + 1);
    }
    for (const [intentId, n] of perIntent) {
      assert.ok(
        n <= counts.get(intentId)!,
        `intent ${intentId} launched ${n} instances for a count of ${counts.get(intentId)}`,
      );
    }
  }

  it('bursts, runs the work on agents the instances started, and scales back to zero', async () => {
    const c = await setUp();
    const s = serve(c, 'serve');
    await waitHealthy(c.url, s);
    client = adminClient(c);
    await client.post('/v1/tasks', tasksSpec(6, 1_500));

    const tasks = await waitFor(
      'every task to succeed on cloud agents',
      async () => {
        const list = await allTasks();
        return list.every((t) => t.state === 'succeeded') ? list : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    assert.equal(tasks.length, 6);
    const agentsUsed = query<{ location: string }>(c, `SELECT location FROM agents WHERE instance_id IS NOT NULL`);
    assert.ok(agentsUsed.length >= 1 && agentsUsed.length <= 3, `${agentsUsed.length} instances for 6 one-CPU tasks`);
    await waitFor('every instance to be terminated after the idle TTL', () => emulator!.liveInstances().length === 0, {
      timeoutMs: 60_000,
    });
    assertNoDuplicateNoUnknown(c);
    assert.deepEqual(emulator!.callsWith('RequestLimitExceeded'), []);
  });

  it('survives SIGKILL at seeded random failpoints: no duplicate, no unknown instance, every task completes', async () => {
    const seed = Number(process.env.SPILLWAY_E2E_SEED ?? Math.floor(Math.random() * 1_000_000));
    console.log(`      aws-burst crash seed: ${seed} (replay with SPILLWAY_E2E_SEED=${seed})`);
    const random = seededRandom(seed);
    const points = ['intent.written', 'provider.returned', 'terminate.written', 'provider.terminated'];
    const c = await setUp();
    let submitted = 0;
    let killedAt = 0;
    for (let round = 0; round < 4; round++) {
      const point = points[Math.floor(random() * points.length)]!;
      const hit = point.startsWith('terminate') || point === 'provider.terminated' ? 1 + Math.floor(random() * 2) : 1;
      const count = 2 + Math.floor(random() * 3);
      console.log(`      round ${round + 1}: ${count} tasks, SIGKILL at ${point}=kill@${hit}`);
      const crashing = serve(c, `crashing-${round}`, { SPILLWAY_FAILPOINTS: `${point}=kill@${hit}` });
      await waitHealthy(c.url, crashing);
      client ??= adminClient(c);
      const landed = await submitThroughCrashes(c, crashing, count, submitted);
      submitted += count;
      // Either it dies at the failpoint, or (the point was not reached twice) the round finishes without a crash.
      const outcome = await waitFor(
        `round ${round + 1} to crash or finish`,
        async () => {
          if (crashing.child.signalCode === 'SIGKILL') return 'killed';
          const list = await allTasks().catch(() => []);
          return list.length === submitted &&
            list.every((t) => t.state === 'succeeded') &&
            emulator!.liveInstances().length === 0
            ? 'finished'
            : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );
      console.log(
        `        ${outcome === 'killed' ? 'killed at the failpoint' : 'finished without reaching it; killed after'}`,
      );
      if (outcome === 'killed') {
        killedAt++;
        assert.match(crashing.log(), new RegExp(`failpoint ${point.replace('.', '\\.')}`));
      } else {
        await crashing.stop('SIGKILL');
      }

      const restarted = serve(c, `restarted-${round}`);
      await waitHealthy(c.url, restarted);
      if (!landed) await client.post('/v1/tasks', tasksSpec(count, 800));
      await waitFor(
        `round ${round + 1}: every task to succeed after the restart`,
        async () => {
          const list = await allTasks();
          return list.length === submitted && list.every((t) => t.state === 'succeeded');
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );
      await waitFor(
        `round ${round + 1}: the cloud to scale back to zero`,
        () => emulator!.liveInstances().length === 0,
        {
          timeoutMs: 60_000,
        },
      );
      assertNoDuplicateNoUnknown(c);
      await restarted.stop('SIGKILL');
    }
    assert.ok(killedAt >= 2, `the controller died at a failpoint in ${killedAt} of 4 rounds (seed ${seed})`);
    assert.deepEqual(emulator!.callsWith('RequestLimitExceeded'), []);
  });

  it('moves work off a spot instance EC2 interrupts: the agent tells the controller, which replaces it at once', async () => {
    const c = await setUp();
    const s = serve(c, 'serve');
    await waitHealthy(c.url, s);
    client = adminClient(c);
    const [submitted] = (await client.post<{ tasks: Task[] }>('/v1/tasks', tasksSpec(1, 10_000, { revocable: true })))
      .tasks;
    const taskId = submitted!.id;
    const running = await waitFor(
      'the task to run on a spot instance',
      async () => {
        const t = await client!.get<Task>(`/v1/tasks/${taskId}`);
        return t.state === 'running' ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const [agent] = query<{ instance_id: string; lifecycle: string }>(
      c,
      `SELECT instance_id, lifecycle FROM agents WHERE id = ?`,
      running.agentId!,
    );
    assert.equal(agent!.lifecycle, 'spot');
    // From now on a task waits a minute before it causes a launch: only the interruption path can replace it sooner.
    const policy = await client.get<Record<string, unknown>>('/v1/policy');
    await client.put('/v1/policy', { ...policy, pendingGraceMs: 60_000 });
    emulator!.interrupt(agent!.instance_id);

    await waitFor('a replacement instance', () => emulator!.liveInstances().some((i) => i.id !== agent!.instance_id), {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    const done = await waitFor(
      'the task to succeed elsewhere',
      async () => {
        const t = await client!.get<Task>(`/v1/tasks/${taskId}`);
        return t.state === 'succeeded' ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.notEqual(done.agentId, running.agentId);
    assert.ok(done.attempts >= 1, 'it was requeued once');
    assert.match(s.log(), /draining agent on interruption notice/);
  });
});
