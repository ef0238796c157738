import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, it } from 'mocha';
import type { ApiClient } from '../../src/api/client.ts';
import type { CreateTokenResponse } from '../../src/api/types.ts';
import type { Task } from '../../src/core/task.ts';
import { pidsByEnv } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { adminClient, cleanup, localCloud, makeCluster, query, ServeProcess, startAgent, waitHealthy, type Cluster } from './harness.ts';

describe('end to end: the controller killed mid-burst', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  let serves: ServeProcess[] = [];
  let agent: ChildProcess | undefined;
  let client: ApiClient | undefined;

  afterEach(async () => {
    client?.close();
    for (const s of serves) await s.stop('SIGKILL').catch(() => undefined);
    await cleanup(cluster, [agent, ...serves.map((s) => s.child)]);
    serves = [];
  });

  // Every failpoint of a launch: in the provisioner (intent written, cloud answered) and in the local provider (its
  // own intent record written, the instance process spawned before it was recorded).
  for (const failpoint of ['intent.written', 'provider.returned', 'local.intent.recorded', 'local.instance.spawned']) {
    it(`launches nothing twice and leaves nothing unknown after SIGKILL at ${failpoint}`, async () => {
      cluster = await makeCluster();
      const c = cluster;
      const crashing = new ServeProcess(c, { env: { SPILLWAY_FAILPOINTS: `${failpoint}=kill` }, name: 'crashing' });
      serves.push(crashing);
      await waitHealthy(c.url, crashing);
      client = adminClient(c);
      const { token } = await client.post<CreateTokenResponse>('/v1/tokens', { role: 'agent', name: 'lab' });
      agent = startAgent(c, token, { name: 'lab-1', cpu: 2, memory: '4Gi' });

      const specs = Array.from({ length: 6 }, () => ({
        command: ['/bin/sh', '-c', 'sleep 1.5'],
        resources: { cpu: 1, memory: '256Mi' },
      }));
      await client.post('/v1/tasks', { tasks: specs });
      await crashing.exited();
      assert.equal(crashing.child.signalCode, 'SIGKILL', `it died at the failpoint:\n${crashing.log().slice(-2000)}`);
      assert.match(crashing.log(), new RegExp(`failpoint ${failpoint.replace('.', '\\.')}`));
      const intentsAtCrash = query<{ id: string }>(c, `SELECT id FROM intents WHERE kind = 'launch'`);
      assert.equal(intentsAtCrash.length, 1, 'the intent was written before the crash');

      const restarted = new ServeProcess(c, { name: 'restarted' });
      serves.push(restarted);
      await waitHealthy(c.url, restarted);
      const tasks = await waitFor(
        'every task to succeed after the restart',
        async () => {
          const list = (await client!.get<{ tasks: Task[] }>('/v1/tasks?limit=100')).tasks;
          return list.every((t) => t.state === 'succeeded') ? list : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );
      assert.equal(tasks.length, 6);

      // No instance launched twice: each launch intent has at most `count` instances, and the cloud holds only
      // instances the store knows.
      const launches = query<{ id: string; count: number; instance_ids: string }>(
        c,
        `SELECT id, count, instance_ids FROM intents WHERE kind = 'launch'`,
      );
      const crashedIntent = launches.find((l) => l.id === intentsAtCrash[0]!.id)!;
      assert.equal(JSON.parse(crashedIntent.instance_ids).length, crashedIntent.count, 'the crashed intent launched once');
      for (const l of launches) assert.ok(JSON.parse(l.instance_ids).length <= l.count);
      const known = new Set(query<{ instance_id: string }>(c, `SELECT instance_id FROM agents WHERE instance_id IS NOT NULL`).map((r) => r.instance_id));
      const live = await localCloud(c)!.list('e2e');
      for (const instance of live) assert.ok(known.has(instance.id), `instance ${instance.id} is known to the store`);
      const perInstance = query<{ n: number }>(c, `SELECT COUNT(*) AS n FROM agents WHERE instance_id IS NOT NULL GROUP BY instance_id HAVING n > 1`);
      assert.deepEqual(perInstance, []);
      // And no instance booted twice: at most one agent process carries each instance id.
      const agentsPerInstance = pidsByEnv('SPILLWAY_INSTANCE_ID', `--url ${c.url}`);
      for (const [instanceId, pids] of agentsPerInstance) {
        assert.ok(pids.length <= 1, `instance ${instanceId} runs ${pids.length} agent processes`);
        assert.ok(known.has(instanceId), `an agent process of instance ${instanceId} that the store does not know`);
      }

      // Scale-down still releases every cloud instance.
      await waitFor('every cloud instance to be released', async () => (await localCloud(c)!.list('e2e')).length === 0, {
        timeoutMs: 30_000,
      });
    });
  }

  // Every failpoint of a terminate: the intent written before the call, and the call returned before it was recorded.
  for (const failpoint of ['terminate.written', 'provider.terminated']) {
    it(`releases every instance once and leaves nothing running after SIGKILL at ${failpoint}`, async () => {
      cluster = await makeCluster();
      const c = cluster;
      // The burst runs on the crashing controller; it dies when scale-down terminates the idle instance.
      const crashing = new ServeProcess(c, { env: { SPILLWAY_FAILPOINTS: `${failpoint}=kill` }, name: 'crashing' });
      serves.push(crashing);
      await waitHealthy(c.url, crashing);
      client = adminClient(c);
      const specs = Array.from({ length: 2 }, () => ({
        command: [process.execPath, '-e', 'setTimeout(() => {}, 500)'],
        resources: { cpu: 1, memory: '256Mi' },
      }));
      await client.post('/v1/tasks', { tasks: specs });
      await crashing.exited();
      assert.equal(crashing.child.signalCode, 'SIGKILL', `it died at the failpoint:\n${crashing.log().slice(-2000)}`);
      assert.match(crashing.log(), new RegExp(`failpoint ${failpoint.replace('.', '\\.')}`));
      const tasksAtCrash = query<{ state: string }>(c, 'SELECT state FROM tasks');
      assert.deepEqual(tasksAtCrash.map((t) => t.state), ['succeeded', 'succeeded'], 'the work was done before the scale-down');
      const terminates = query<{ id: string; state: string; instance_ids: string }>(
        c,
        `SELECT id, state, instance_ids FROM intents WHERE kind = 'terminate'`,
      );
      assert.ok(terminates.length >= 1, 'the terminate intent was written before the crash');
      assert.ok(terminates.some((t) => t.state === 'pending'), 'and it is still open');
      const released = new Set(terminates.flatMap((t) => JSON.parse(t.instance_ids) as string[]));

      const restarted = new ServeProcess(c, { name: 'restarted' });
      serves.push(restarted);
      await waitHealthy(c.url, restarted);
      await waitFor('every cloud instance to be released', async () => (await localCloud(c)!.list('e2e')).length === 0, {
        timeoutMs: 30_000,
      });
      await waitFor('the terminate intents to close', () =>
        query<{ n: number }>(c, `SELECT COUNT(*) AS n FROM intents WHERE kind = 'terminate' AND state = 'pending'`)[0]!.n === 0,
      );
      const cloudAgents = query<{ instance_id: string; state: string }>(
        c,
        `SELECT instance_id, state FROM agents WHERE instance_id IS NOT NULL`,
      );
      assert.ok(cloudAgents.length >= 1);
      for (const a of cloudAgents) assert.equal(a.state, 'terminated', `the agent of ${a.instance_id} is closed`);
      for (const id of released) assert.ok(cloudAgents.some((a) => a.instance_id === id), `${id} was an instance the store knew`);
      await waitFor('no agent process left on the released instances', () => pidsByEnv('SPILLWAY_INSTANCE_ID', `--url ${c.url}`).size === 0, {
        timeoutMs: 30_000,
      });
      // Nothing was launched again after the restart: the work was done.
      const launches = query<{ n: number }>(c, `SELECT COUNT(*) AS n FROM intents WHERE kind = 'launch'`)[0]!.n;
      assert.equal(launches, 1, 'one launch for the burst, none after the restart');
    });
  }
});
