import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import type { Agent } from '../../src/core/agent.ts';
import type { Task } from '../../src/core/task.ts';
import { waitFor } from '../helpers/wait.ts';
import { adminClient, cleanup, clusterPids, makeCluster, query, ServeProcess, waitHealthy, type Cluster } from './harness.ts';

/**
 * The whole system with real processes, real HTTP and a real SQLite file: `spillway serve` with two private agents of
 * 2 CPUs, 12 one-CPU tasks (three times the private capacity), and the local cloud.
 */
describe('end to end: bursting a private pool into the local cloud', function () {
  this.timeout(120_000);
  /** What a test started, stopped after it whatever happened. */
  let started: { cluster: Cluster; serve: ServeProcess; client?: ApiClient }[] = [];

  /** Each test's own cluster: `spillway serve` with two private agents of 2 CPUs, both registered. */
  async function startCluster(): Promise<{ cluster: Cluster; serve: ServeProcess; client: ApiClient }> {
    const cluster = await makeCluster({
      pool: { heartbeatIntervalMs: 300, lostAfterMs: 5_000, privateAgents: { count: 2, cpu: 2, memory: '4Gi' } },
    });
    const serve = new ServeProcess(cluster);
    const entry: { cluster: Cluster; serve: ServeProcess; client?: ApiClient } = { cluster, serve };
    started.push(entry);
    await waitHealthy(cluster.url, serve);
    const api = adminClient(cluster);
    entry.client = api;
    await waitFor('two private agents', async () => {
      const { agents } = await api.get<{ agents: Agent[] }>('/v1/agents?state=registered');
      return agents.filter((a) => a.location.kind === 'private').length === 2;
    });
    return { cluster, serve, client: api };
  }

  afterEach(async () => {
    for (const { cluster, serve, client } of started) {
      client?.close();
      await serve.stop().catch(() => undefined);
      await cleanup(cluster, [serve.child]);
    }
    started = [];
  });

  it('bursts after the grace period, runs every task on private and cloud agents, and scales back down', async () => {
    const { cluster: c, serve, client: api } = await startCluster();

    const specs = Array.from({ length: 12 }, (_, i) => ({
      // /bin/sh, not node: the task runs as an unprivileged uid that may not reach this Node (under a 0700 home).
      command: ['/bin/sh', '-c', `sleep 2.5; echo "task ${i} done on $SPILLWAY_TASK_ID"`],
      resources: { cpu: 1, memory: '512Mi' },
      owner: { team: 'vision', project: 'burst', job: `job-${i}` },
    }));
    const { tasks } = await api.post<{ tasks: Task[] }>('/v1/tasks', { tasks: specs });
    assert.equal(tasks.length, 12);

    const finished = await waitFor(
      'all 12 tasks to finish',
      async () => {
        const list = (await api.get<{ tasks: Task[] }>('/v1/tasks?limit=100')).tasks;
        return list.every((t) => t.state === 'succeeded' || t.state === 'failed') ? list : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    assert.deepEqual(
      finished.filter((t) => t.state !== 'succeeded').map((t) => `${t.id}: ${t.state} ${t.outputTail}`),
      [],
    );
    for (const t of finished) assert.match(t.outputTail, new RegExp(`done on ${t.id}`));

    // Launches came only after the grace period.
    const firstSubmit = Math.min(...tasks.map((t) => t.createdAtMs));
    const launches = query<{ created_at_ms: number; count: number }>(c, `SELECT created_at_ms, count FROM intents WHERE kind = 'launch'`);
    assert.ok(launches.length > 0, 'it launched cloud instances');
    for (const launch of launches) assert.ok(launch.created_at_ms - firstSubmit >= 2_000, 'no launch before pendingGraceMs');

    // Tasks ran on both private and cloud agents.
    const kinds = query<{ location: string }>(
      c,
      `SELECT DISTINCT a.location FROM tasks t JOIN agents a ON a.id = t.agent_id WHERE t.state = 'succeeded'`,
    ).map((r) => (JSON.parse(r.location) as { kind: string }).kind);
    assert.deepEqual([...new Set(kinds)].sort(), ['cloud', 'private']);

    // Idle cloud agents are terminated after idleTtlMs, and their processes are gone.
    await waitFor(
      'cloud agents to be terminated',
      async () => {
        const { agents } = await api.get<{ agents: Agent[] }>(
          '/v1/agents?state=provisioning,registered,draining,lost&limit=1000',
        );
        return agents.every((a) => a.location.kind === 'private');
      },
      { timeoutMs: 30_000 },
    );
    const cloudAgents = query<{ id: string; state: string; instance_id: string }>(
      c,
      `SELECT id, state, instance_id FROM agents WHERE location LIKE '%"cloud"%'`,
    );
    assert.ok(cloudAgents.length > 0);
    assert.ok(cloudAgents.every((a) => a.state === 'terminated'));
    // Each was terminated only after idleTtlMs without work.
    for (const agent of cloudAgents) {
      const [lastWork] = query<{ at: number | null }>(c, `SELECT MAX(finished_at_ms) AS at FROM tasks WHERE agent_id = ?`, agent.id);
      const [terminate] = query<{ at: number }>(
        c,
        `SELECT MIN(created_at_ms) AS at FROM intents WHERE kind = 'terminate' AND instance_ids LIKE ?`,
        `%${agent.instance_id}%`,
      );
      if (lastWork?.at) assert.ok(terminate!.at - lastWork.at >= 3_000, `agent ${agent.id} idled ${terminate!.at - lastWork.at} ms`);
    }
    await waitFor('local cloud instances to exit', () => clusterPids(c).filter((pid) => pid !== serve.child.pid).length <= 2);
  });

  it('leaves no agent process behind when it stops', async () => {
    const { cluster: c, serve } = await startCluster();
    // The two private agents run as processes of their own beside serve.
    await waitFor('the agent processes', () => clusterPids(c).filter((pid) => pid !== serve.child.pid).length >= 2);
    await serve.stop('SIGTERM');
    await waitFor('every agent process to exit', () => clusterPids(c).length === 0, { timeoutMs: 20_000 });
  });

  it('never wrote a token or credential into its log', async () => {
    const { cluster: c, serve, client: api } = await startCluster();
    // Tokens at work: agents registered with the agent token, a task submitted with the admin token and run.
    const { tasks } = await api.post<{ tasks: Task[] }>('/v1/tasks', {
      tasks: [{ command: ['true'], resources: { cpu: 1, memory: '64Mi' } }],
    });
    const id = tasks[0]?.id ?? '';
    await waitFor('the task to succeed', async () => (await api.get<Task>(`/v1/tasks/${id}`)).state === 'succeeded');
    await serve.stop('SIGTERM');
    const log = serve.log();
    const secrets = ['admin.token', 'agent.token'].map((f) => readFileSync(join(c.home, f), 'utf8').trim());
    for (const secret of secrets) assert.ok(!log.includes(secret), 'a token from a token file appears in the log');
    assert.doesNotMatch(log, /sw[tb]_(?!\[redacted\])[A-Za-z0-9]/, 'something shaped like a token appears in the log');
    assert.match(log, /registered agent/, 'the log is this run log');
  });
});
