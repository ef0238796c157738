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
  /** Rounds per failpoint; SPILLWAY_CRASH_ROUNDS overrides it (CI runs one round at each). */
  readonly roundsPerFailpoint?: number;
  /** The cloud in the scale-to-zero wait's description. */
  readonly cloud: string;
  /** How many of the cloud's instances are not yet gone. */
  readonly liveInstances: () => number;
  /** The no-duplicate, no-unknown-instance check, run after every round. */
  readonly assertClean: () => void;
}

/** The provisioner's failpoints: every launch and terminate step a controller can die between. */
export const PROVISIONER_FAILPOINTS = ['intent.written', 'provider.returned', 'terminate.written', 'provider.terminated'] as const;

/** Rounds per failpoint: SPILLWAY_CRASH_ROUNDS when set (a longer run), else `fallback`. */
export function crashRoundsPerFailpoint(fallback = 1): number {
  const raw = Number(process.env.SPILLWAY_CRASH_ROUNDS ?? fallback);
  return Number.isSafeInteger(raw) && raw > 0 ? raw : fallback;
}

/**
 * Rounds of: a controller armed to SIGKILL itself at a failpoint, a submission through its death, a restarted
 * controller that must finish every task and scale the cloud to zero, then `assertClean`. Every provisioner failpoint
 * gets the same number of rounds, in an order drawn from the seed (SPILLWAY_E2E_SEED, else random, printed for a
 * replay). Each failpoint is armed for its first hit, which every round reaches (its burst launches, then scales to
 * zero), so a round whose controller did not die there fails. Returns the seed and the number of kills.
 */
export async function runCrashRounds(opts: CrashRounds): Promise<{ seed: number; killedAt: number; rounds: number }> {
  const seed = Number(process.env.SPILLWAY_E2E_SEED ?? Math.floor(Math.random() * 1_000_000));
  console.log(`      ${opts.name} crash seed: ${seed} (replay with SPILLWAY_E2E_SEED=${seed})`);
  const random = seededRandom(seed);
  const perPoint = crashRoundsPerFailpoint(opts.roundsPerFailpoint);
  const schedule = PROVISIONER_FAILPOINTS.flatMap((p) => Array.from({ length: perPoint }, () => p as string));
  for (let i = schedule.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
  }
  const c = opts.cluster;
  let submitted = 0;
  let killedAt = 0;
  for (let round = 0; round < schedule.length; round++) {
    const point = schedule[round]!;
    const count = 2 + Math.floor(random() * 3);
    console.log(`      round ${round + 1}: ${count} tasks, SIGKILL at ${point}=kill@1`);
    const crashing = await opts.serves.startHealthy(c, `crashing-${round}`, {
      SPILLWAY_FAILPOINTS: `${point}=kill@1`,
    });
    const client = opts.client();
    const landed = await submitThroughCrashes(client, c, crashing, count, submitted);
    submitted += count;
    // It dies at the failpoint; seeing the work done first only means the kill (right after the last terminate
    // returned) is a moment away.
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
    if (outcome === 'finished') {
      await waitFor(`round ${round + 1}: the controller to die at ${point}`, () => crashing.child.signalCode === 'SIGKILL', {
        timeoutMs: 15_000,
      }).catch(() => undefined);
    }
    if (crashing.child.signalCode === 'SIGKILL') {
      killedAt++;
      console.log('        killed at the failpoint');
      assert.match(crashing.log(), new RegExp(`failpoint ${point.replace('.', '\\.')}`));
    } else {
      // Counted as no kill: the caller's count of kills fails the test.
      console.log('        NOT killed at the failpoint; killed after');
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
  return { seed, killedAt, rounds: schedule.length };
}
