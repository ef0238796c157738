import assert from 'node:assert/strict';
import { ApiError, type ApiClient } from '../../src/api/client.ts';
import { SpillwayError } from '../../src/core/errors.ts';
import { seededRandom } from '../../src/core/random.ts';
import type { Task } from '../../src/core/task.ts';
import { waitFor } from '../helpers/wait.ts';
import { query, type Cluster, type Serves, type ServeProcess } from './harness.ts';

/** A POST /v1/tasks body: `count` one-CPU tasks that each sleep `ms`. */
export function tasksSpec(count: number, ms: number, opts: { revocable?: boolean } = {}): unknown {
  return {
    tasks: Array.from({ length: count }, () => ({
      // /bin/sh, not node: tasks run as an unprivileged uid, which may not reach this Node.
      command: ['/bin/sh', '-c', `sleep ${ms / 1000}`],
      resources: { cpu: 1, memory: '256Mi' },
      ...(opts.revocable ? { revocable: true } : {}),
    })),
  };
}

/** Every task the controller knows (up to 1000). */
export async function allTasks(client: ApiClient): Promise<Task[]> {
  return (await client.get<{ tasks: Task[] }>('/v1/tasks?limit=1000')).tasks;
}

/**
 * Submits `count` tasks to a controller that may die at a failpoint while it answers (a resumed terminate can reach
 * `provider.terminated` at start). The insert is one transaction, so the store holds all of them or none: the store
 * tells which. Returns false when the submission did not land and the server is gone: the caller sends it again
 * once a controller listens.
 */
export async function submitThroughCrashes(
  client: ApiClient,
  cluster: Cluster,
  server: ServeProcess,
  count: number,
  before: number,
): Promise<boolean> {
  const stored = (): number => Number(query<{ n: number }>(cluster, 'SELECT count(*) AS n FROM tasks')[0]!.n);
  const dead = (): boolean => server.child.exitCode !== null || server.child.signalCode !== null;
  const outcome = await waitFor('the submission to land or its server to die', async () => {
    if (stored() === before + count) return 'landed';
    assert.equal(stored(), before, 'a submission is stored whole or not at all');
    if (dead()) return 'lost';
    try {
      await client.post('/v1/tasks', tasksSpec(count, 800));
      return 'landed';
    } catch (err) {
      if (!(err instanceof SpillwayError) || !err.retryable || err instanceof ApiError) throw err;
      console.log(`        the submission failed (${err.message}); the store decides whether it landed`);
      return undefined;
    }
  });
  return outcome === 'landed';
}

export interface CrashRounds {
  /** Names the test in the seed line (`<name> crash seed: …`). */
  readonly name: string;
  readonly cluster: Cluster;
  readonly serves: Serves;
  /** The admin client, made once the first controller listens. */
  readonly client: () => ApiClient;
  readonly rounds: number;
  /** Whether a terminate failpoint may be hit on its first or second pass (else always the first). */
  readonly repeatTerminates: boolean;
  /** The cloud in the scale-to-zero wait's description. */
  readonly cloud: string;
  /** How many of the cloud's instances are not yet gone. */
  readonly liveInstances: () => number;
  /** The no-duplicate, no-unknown-instance check, run after every round. */
  readonly assertClean: () => void;
}

/**
 * Rounds of: a controller armed to SIGKILL itself at a seeded random failpoint, a submission through its death, a
 * restarted controller that must finish every task and scale the cloud to zero, then `assertClean`. The seed comes
 * from SPILLWAY_E2E_SEED or is random, and is printed for a replay. Returns it with the number of rounds that died
 * at their failpoint (a round that never reaches it finishes and is killed after).
 */
export async function runCrashRounds(opts: CrashRounds): Promise<{ seed: number; killedAt: number }> {
  const seed = Number(process.env.SPILLWAY_E2E_SEED ?? Math.floor(Math.random() * 1_000_000));
  console.log(`      ${opts.name} crash seed: ${seed} (replay with SPILLWAY_E2E_SEED=${seed})`);
  const random = seededRandom(seed);
  const points = ['intent.written', 'provider.returned', 'terminate.written', 'provider.terminated'];
  const c = opts.cluster;
  let submitted = 0;
  let killedAt = 0;
  for (let round = 0; round < opts.rounds; round++) {
    const point = points[Math.floor(random() * points.length)]!;
    const terminates = point.startsWith('terminate') || point === 'provider.terminated';
    const hit = opts.repeatTerminates && terminates ? 1 + Math.floor(random() * 2) : 1;
    const count = 2 + Math.floor(random() * 3);
    console.log(`      round ${round + 1}: ${count} tasks, SIGKILL at ${point}=kill@${hit}`);
    const crashing = await opts.serves.startHealthy(c, `crashing-${round}`, {
      SPILLWAY_FAILPOINTS: `${point}=kill@${hit}`,
    });
    const client = opts.client();
    const landed = await submitThroughCrashes(client, c, crashing, count, submitted);
    submitted += count;
    // Either it dies at the failpoint, or (the point was not reached) the round finishes without a crash.
    const outcome = await waitFor(
      `round ${round + 1} to crash or finish`,
      async () => {
        if (crashing.child.signalCode === 'SIGKILL') return 'killed';
        const list = await allTasks(client).catch(() => []);
        return list.length === submitted && list.every((t) => t.state === 'succeeded') && opts.liveInstances() === 0
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

    const restarted = await opts.serves.startHealthy(c, `restarted-${round}`);
    if (!landed) await client.post('/v1/tasks', tasksSpec(count, 800));
    await waitFor(
      `round ${round + 1}: every task to succeed after the restart`,
      async () => {
        const list = await allTasks(client);
        return list.length === submitted && list.every((t) => t.state === 'succeeded');
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    await waitFor(`round ${round + 1}: ${opts.cloud} to scale back to zero`, () => opts.liveInstances() === 0, {
      timeoutMs: 60_000,
    });
    opts.assertClean();
    await restarted.stop('SIGKILL');
  }
  return { seed, killedAt };
}
