import assert from 'node:assert/strict';
import type { ApiClient } from '../../src/api/client.ts';
import type { Task } from '../../src/core/task.ts';
import { waitFor } from '../helpers/wait.ts';
import { allTasks, tasksSpec } from './crash-rounds.ts';
import { query, type Cluster } from './harness.ts';

/**
 * Submits `count` one-CPU tasks of 1.5 s to a controller whose only capacity is a cloud (`cloud` names it in the
 * waits), waits until every one has succeeded and every instance is gone after the idle TTL, and returns the
 * agents that ran on cloud instances (with their location as the store holds it).
 */
export async function burstToZero(
  client: ApiClient,
  cluster: Cluster,
  opts: {
    readonly count: number;
    readonly cloud: string;
    readonly liveInstances: () => number;
    /** At most this many instances may have run the work (each agent's state and reason are in the failure). */
    readonly maxInstances?: number;
    /** The controller's log: a requeued task's lines from it are printed (its stored reason is its last one only). */
    readonly serveLog?: () => string;
  },
): Promise<{ location: string }[]> {
  await client.post('/v1/tasks', tasksSpec(opts.count, 1_500));
  const tasks = await waitFor(
    `every task to succeed on ${opts.cloud} agents`,
    async () => {
      const list = await allTasks(client);
      return list.every((t) => t.state === 'succeeded') ? list : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
  assert.equal(tasks.length, opts.count);
  // A requeue is possible under load (an agent silent for lostAfterMs): printed for the next look, not failed on.
  const requeued = tasks.filter((t) => t.attempts !== 0).map((t) => `${t.id}: ${t.attempts} requeue(s), ${t.reason}`);
  if (requeued.length > 0) {
    console.warn(`      requeued on ${opts.cloud}: ${requeued.join('; ')}`);
    const ids = tasks.filter((t) => t.attempts !== 0).map((t) => t.id);
    const lines = (opts.serveLog?.() ?? '').split('\n').filter((l) => ids.some((id) => l.includes(id)));
    for (const line of lines.slice(0, 20)) console.warn(`        ${line.slice(0, 400)}`);
  }
  const used = query<{ location: string; id: string; state: string; reason: string }>(
    cluster,
    `SELECT location, id, state, reason FROM agents WHERE instance_id IS NOT NULL`,
  );
  if (opts.maxInstances !== undefined) {
    const why = JSON.stringify({ agents: used.map(({ id, state, reason }) => ({ id, state, reason })), requeued });
    assert.ok(used.length <= opts.maxInstances, `${used.length} instances for ${opts.count} tasks: ${why}`);
  }
  await waitFor('every instance to be gone after the idle TTL', () => opts.liveInstances() === 0, {
    timeoutMs: 60_000,
  });
  return used;
}

/**
 * Runs one revocable ten-second task until it is running on a spot instance (`vm` names it in the waits), makes a
 * task wait a minute before it causes a launch, then `interrupt`s that instance: a replacement (`replaced` says when
 * some other instance is live) must come sooner, and the task must succeed on another agent, requeued. Returns the
 * interrupted instance's id.
 */
export async function interruptSpotTask(
  client: ApiClient,
  cluster: Cluster,
  opts: {
    readonly vm: string;
    readonly interrupt: (instanceId: string) => void;
    readonly replaced: (instanceId: string) => boolean;
  },
): Promise<string> {
  const [submitted] = (await client.post<{ tasks: Task[] }>('/v1/tasks', tasksSpec(1, 10_000, { revocable: true })))
    .tasks;
  const taskId = submitted!.id;
  const running = await waitFor(
    `the task to run on ${opts.vm}`,
    async () => {
      const t = await client.get<Task>(`/v1/tasks/${taskId}`);
      return t.state === 'running' ? t : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const [agent] = query<{ instance_id: string; lifecycle: string }>(
    cluster,
    `SELECT instance_id, lifecycle FROM agents WHERE id = ?`,
    running.agentId!,
  );
  assert.equal(agent!.lifecycle, 'spot');
  // From now on a task waits a minute before it causes a launch: only the interruption path can replace it sooner.
  const policy = await client.get<Record<string, unknown>>('/v1/policy');
  await client.put('/v1/policy', { ...policy, pendingGraceMs: 60_000 });
  opts.interrupt(agent!.instance_id);

  await waitFor('a replacement instance', () => opts.replaced(agent!.instance_id), {
    timeoutMs: 20_000,
    intervalMs: 200,
  });
  const done = await waitFor(
    'the task to succeed elsewhere',
    async () => {
      const t = await client.get<Task>(`/v1/tasks/${taskId}`);
      return t.state === 'succeeded' ? t : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  assert.notEqual(done.agentId, running.agentId);
  assert.ok(done.attempts >= 1, 'it was requeued once');
  return agent!.instance_id;
}
