import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import { ApiError, type ApiClient } from '../../src/api/client.ts';
import { SpillwayError } from '../../src/core/errors.ts';
import { seededRandom } from '../../src/core/random.ts';
import type { Task } from '../../src/core/task.ts';
import { GceEmulator } from '../emulators/gce/gce-emulator.ts';
import {
  assertGceNoDuplicateNoUnknown,
  gceProviderEntry,
  gceServeEnv,
  storeView,
} from '../emulators/gce/spillway-config.ts';
import { waitFor } from '../helpers/wait.ts';
import { adminClient, cleanup, CLI, makeCluster, query, ServeProcess, waitHealthy, type Cluster } from './harness.ts';

function tasksSpec(count: number, ms: number, opts: { revocable?: boolean } = {}): unknown {
  return {
    tasks: Array.from({ length: count }, () => ({
      command: [process.execPath, '-e', `setTimeout(() => {}, ${ms})`],
      resources: { cpu: 1, memory: '256Mi' },
      ...(opts.revocable ? { revocable: true } : {}),
    })),
  };
}

describe('end to end: bursting to GCE (the emulator) with real agents', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  let emulator: GceEmulator | undefined;
  let serves: ServeProcess[] = [];
  let client: ApiClient | undefined;
  let logDir: string | undefined;

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
    if (logDir && !process.env.SPILLWAY_KEEP_E2E) rmSync(logDir, { recursive: true, force: true });
    logDir = undefined;
  });

  async function setUp(policy: Record<string, unknown> = {}): Promise<Cluster> {
    logDir = mkdtempSync(join(tmpdir(), 'spillway-e2e-gce-'));
    emulator = await GceEmulator.start({ bootMs: 300, bootScripts: { logDir, shutdownGraceMs: 2_000 } });
    cluster = await makeCluster({
      providers: [gceProviderEntry(emulator, { dir: logDir, agentCommand: [process.execPath, CLI, 'agent'] })],
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
    const s = new ServeProcess(c, { env: { ...gceServeEnv(c.dir), ...env }, name });
    serves.push(s);
    return s;
  }

  async function allTasks(): Promise<Task[]> {
    return (await client!.get<{ tasks: Task[] }>('/v1/tasks?limit=1000')).tasks;
  }

  /**
   * Submits to a controller that may die at its failpoint while it answers (a terminate resumed at start reaches
   * `provider.terminated` early). The insert is one transaction: the store says whether it landed. False when it did
   * not and the server is gone; the caller submits again once a controller listens.
   */
  async function submitThroughCrash(c: Cluster, server: ServeProcess, count: number, before: number): Promise<boolean> {
    const stored = (): number => Number(query<{ n: number }>(c, 'SELECT count(*) AS n FROM tasks')[0]!.n);
    const outcome = await waitFor('the submission to land or its server to die', async () => {
      if (stored() === before + count) return 'landed';
      assert.equal(stored(), before, 'a submission is stored whole or not at all');
      if (server.child.exitCode !== null || server.child.signalCode !== null) return 'lost';
      try {
        await client!.post('/v1/tasks', tasksSpec(count, 800));
        return 'landed';
      } catch (err) {
        if (!(err instanceof SpillwayError) || !err.retryable || err instanceof ApiError) throw err;
        return undefined;
      }
    });
    return outcome === 'landed';
  }

  it('bursts, runs the work on agents the instances started, and scales back to zero', async () => {
    const c = await setUp();
    const s = serve(c, 'serve');
    await waitHealthy(c.url, s);
    client = adminClient(c);
    await client.post('/v1/tasks', tasksSpec(5, 1_500));
    const tasks = await waitFor(
      'every task to succeed on GCE agents',
      async () => {
        const list = await allTasks();
        return list.every((t) => t.state === 'succeeded') ? list : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    assert.equal(tasks.length, 5);
    const used = query<{ location: string }>(c, `SELECT location FROM agents WHERE instance_id IS NOT NULL`);
    assert.ok(used.length >= 1 && used.every((a) => JSON.parse(a.location).provider === 'gcp-compute'));
    await waitFor('every instance to be deleted after the idle TTL', () => emulator!.instances().length === 0, {
      timeoutMs: 60_000,
    });
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
    const seed = Number(process.env.SPILLWAY_E2E_SEED ?? Math.floor(Math.random() * 1_000_000));
    console.log(`      gce-burst crash seed: ${seed} (replay with SPILLWAY_E2E_SEED=${seed})`);
    const random = seededRandom(seed);
    const points = ['intent.written', 'provider.returned', 'terminate.written', 'provider.terminated'];
    const c = await setUp();
    let submitted = 0;
    for (let round = 0; round < 3; round++) {
      const point = points[Math.floor(random() * points.length)]!;
      const count = 2 + Math.floor(random() * 3);
      console.log(`      round ${round + 1}: ${count} tasks, SIGKILL at ${point}=kill@1`);
      const crashing = serve(c, `crashing-${round}`, { SPILLWAY_FAILPOINTS: `${point}=kill@1` });
      await waitHealthy(c.url, crashing);
      client ??= adminClient(c);
      const landed = await submitThroughCrash(c, crashing, count, submitted);
      submitted += count;
      const outcome = await waitFor(
        `round ${round + 1} to crash or finish`,
        async () => {
          if (crashing.child.signalCode === 'SIGKILL') return 'killed';
          const list = await allTasks().catch(() => []);
          return list.length === submitted &&
            list.every((t) => t.state === 'succeeded') &&
            emulator!.instances().length === 0
            ? 'finished'
            : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );
      console.log(
        `        ${outcome === 'killed' ? 'killed at the failpoint' : 'finished without reaching it; killed after'}`,
      );
      if (outcome !== 'killed') await crashing.stop('SIGKILL');
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
      await waitFor(`round ${round + 1}: GCE to scale back to zero`, () => emulator!.instances().length === 0, {
        timeoutMs: 60_000,
      });
      assertGceNoDuplicateNoUnknown(
        emulator!,
        storeView((sql) => query(c, sql)),
      );
      await restarted.stop('SIGKILL');
    }
  });

  it('moves work off a preempted Spot VM: the agent sees instance/preempted, the controller replaces it at once', async () => {
    const c = await setUp();
    const s = serve(c, 'serve');
    await waitHealthy(c.url, s);
    client = adminClient(c);
    const [submitted] = (await client.post<{ tasks: Task[] }>('/v1/tasks', tasksSpec(1, 10_000, { revocable: true })))
      .tasks;
    const taskId = submitted!.id;
    const running = await waitFor(
      'the task to run on a Spot VM',
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
    // From now on a task waits a minute before it causes a launch: only the preemption path can replace it sooner.
    const policy = await client.get<Record<string, unknown>>('/v1/policy');
    await client.put('/v1/policy', { ...policy, pendingGraceMs: 60_000 });
    emulator!.preempt(agent!.instance_id);

    await waitFor(
      'a replacement instance',
      () => emulator!.liveInstances().some((i) => emulator!.instanceId(i) !== agent!.instance_id),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
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
    assert.ok(
      emulator!.metadata.requests.some(
        (r) => r.instance === agent!.instance_id && r.path.endsWith('/instance/preempted') && r.waited,
      ),
      "the agent watched the metadata server's instance/preempted",
    );
  });
});
