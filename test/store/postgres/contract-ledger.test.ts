import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'mocha';
import { resources } from '../../../src/core/resources.ts';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import type { AgentInterval } from '../../../src/cost-model/ledger.ts';
import { T0, launchIntent, newTask, offering, terminateIntent } from '../helpers.ts';
import type { Agent } from '../../../src/core/agent.ts';
import type { NewAgent } from '../../../src/store/store.ts';
import { privateAgent } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/ledger.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */

/** Inserts a registered private agent. */
async function addAgent(store: ContractStore, overrides: Partial<NewAgent> = {}, nowMs = T0): Promise<Agent> {
  return store.agents.insert(privateAgent(overrides), nowMs);
}

const ML = { team: 'ml', project: 'vision', job: 'train' };
const SEARCH = { team: 'search', project: 'index', job: 'crawl' };

describeEachEngine('store contract: the cost ledger', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  /** A launch of `instanceIds` for two owners, confirmed at `atMs`. */
  async function launch(instanceIds: readonly string[], atMs = T0 + 1_000): Promise<LaunchIntent> {
    const intent = launchIntent({
      offering: offering({ instanceType: 'c7i.xlarge', lifecycle: 'spot', pricePerHourMicros: 178_500 }),
      count: instanceIds.length,
      owners: [
        { owner: ML, share: 0.75 },
        { owner: SEARCH, share: 0.25 },
      ],
    });
    await store.intents.insert(intent);
    await store.intents.completeLaunch(intent.id, instanceIds, atMs);
    return intent;
  }

  describe('agent intervals', () => {
    it('opens a cloud agent’s interval when its launch is confirmed, with its price and the launch’s owners', async () => {
      const intent = await launch(['i-1']);
      const agent = (await store.agents.byInstance(intent.providerId, 'i-1'))!;
      assert.deepEqual(await store.ledger.agentInterval(agent.id), {
        agentId: agent.id,
        name: 'i-1',
        location: agent.location,
        provider: 'aws-ec2',
        providerId: 'aws-ec2:us-east-1',
        instanceId: 'i-1',
        instanceType: 'c7i.xlarge',
        lifecycle: 'spot',
        pricePerHourMicros: 178_500,
        capacity: agent.capacity,
        intentId: intent.id,
        owners: intent.owners,
        startMs: T0 + 1_000,
        endMs: null,
      } satisfies AgentInterval);
    });

    it('closes it when the termination is confirmed, and not before', async () => {
      const intent = await launch(['i-1']);
      const agent = (await store.agents.byInstance(intent.providerId, 'i-1'))!;
      await store.agents.setState(agent.id, 'lost', 'no heartbeat', T0 + 5_000);
      assert.equal((await store.ledger.agentInterval(agent.id))?.endMs, null, 'a lost instance may still be billing');
      const terminate = terminateIntent({ instanceIds: ['i-1'] });
      await store.intents.insert(terminate);
      await store.intents.completeTerminate(terminate, T0 + 9_000);
      assert.equal((await store.ledger.agentInterval(agent.id))?.endMs, T0 + 9_000);
      await store.intents.completeTerminate(terminate, T0 + 20_000);
      assert.equal((await store.ledger.agentInterval(agent.id))?.endMs, T0 + 9_000, 'closing twice changes nothing');
    });

    it('starts an adopted instance’s interval when its intent was written: it may have billed since', async () => {
      const intent = launchIntent({ createdAtMs: T0 - 60_000 });
      await store.intents.insert(intent);
      await store.intents.adoptInstances(intent.id, ['i-9'], T0 + 300_000);
      const agent = (await store.agents.byInstance(intent.providerId, 'i-9'))!;
      assert.equal((await store.ledger.agentInterval(agent.id))?.startMs, T0 - 60_000);
      await store.intents.completeLaunch(intent.id, ['i-9'], T0 + 400_000);
      assert.equal((await store.ledger.agentInterval(agent.id))?.startMs, T0 - 60_000, 'a later confirmation keeps it');
    });

    it('opens a private agent’s interval when it registers and closes it when lost or terminated', async () => {
      const rack = await addAgent(store, {}, T0);
      const interval = (await store.ledger.agentInterval(rack.id))!;
      assert.deepEqual(
        [interval.provider, interval.lifecycle, interval.owners, interval.startMs],
        ['private', 'private', [], T0],
      );
      await store.agents.setState(rack.id, 'lost', 'no heartbeat', T0 + 50);
      assert.equal((await store.ledger.agentInterval(rack.id))?.endMs, T0 + 50);
      await store.agents.setState(rack.id, 'terminated', 'gone', T0 + 90);
      assert.equal((await store.ledger.agentInterval(rack.id))?.endMs, T0 + 50);
    });

    it('records the capacity an agent registers with', async () => {
      const intent = await launch(['i-1']);
      const agent = (await store.agents.byInstance(intent.providerId, 'i-1'))!;
      const capacity = resources({ cpuMillis: 3_900, memoryMiB: 7_800, netMbps: 10_000 });
      await store.agents.register(agent.id, { capacity, labels: {} }, T0 + 2_000);
      assert.deepEqual((await store.ledger.agentInterval(agent.id))?.capacity, capacity);
    });
  });

  describe('usage intervals', () => {
    /** A registered cloud agent of 2 CPUs and 8 GiB and a task of 1 CPU and 2 GiB placed on it. */
    async function placed(task = newTask({ owner: SEARCH })): Promise<{ agentId: string; taskId: string }> {
      const intent = await launch(['i-1']);
      const agent = (await store.agents.byInstance(intent.providerId, 'i-1'))!;
      await store.agents.register(
        agent.id,
        { capacity: resources({ cpuMillis: 2_000, memoryMiB: 8_192 }), labels: {} },
        T0,
      );
      const [inserted] = await store.tasks.insert([task], T0);
      await store.tasks.place(inserted!.id, agent.id, T0 + 10);
      return { agentId: agent.id, taskId: inserted!.id };
    }

    it('opens a task’s run when the agent claims it and closes it when it finishes', async () => {
      const { agentId, taskId } = await placed();
      assert.deepEqual(await store.ledger.usageOf(taskId), [], 'placed is not running');
      await store.tasks.claim(agentId, T0 + 20);
      await store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: '' }, T0 + 5_020);
      const [run, ...more] = await store.ledger.usageOf(taskId);
      assert.deepEqual(more, []);
      assert.deepEqual(
        { ...run, id: 0 },
        { id: 0, taskId, agentId, owner: SEARCH, share: 0.5, startMs: T0 + 20, endMs: T0 + 5_020 },
      );
    });

    const closers = [
      {
        name: 'a requeue',
        close: (s: ContractStore, t: string, a: string) => s.tasks.requeue(t, a, 'handed back', T0 + 99),
      },
      { name: 'a cancel', close: (s: ContractStore, t: string) => s.tasks.cancel(t, 'not needed', T0 + 99) },
      {
        name: 'the agent’s termination',
        close: (s: ContractStore, _t: string, a: string) => s.agents.setState(a, 'terminated', 'x', T0 + 99),
      },
      {
        name: 'the agent being lost',
        close: (s: ContractStore, _t: string, a: string) => s.agents.setState(a, 'lost', 'x', T0 + 99),
      },
      {
        name: 'a requeue of the whole agent',
        close: (s: ContractStore, _t: string, a: string) => s.tasks.requeueAgent(a, 'x', T0 + 99),
      },
    ];
    for (const c of closers) {
      it(`closes a task’s run at ${c.name}`, async () => {
        const { agentId, taskId } = await placed();
        await store.tasks.claim(agentId, T0 + 20);
        await c.close(store, taskId, agentId);
        assert.deepEqual(
          (await store.ledger.usageOf(taskId)).map((u) => [u.startMs, u.endMs]),
          [[T0 + 20, T0 + 99]],
        );
      });
    }

    it('opens one run per claim: a requeued task placed and claimed again gets a second', async () => {
      const { agentId, taskId } = await placed();
      await store.tasks.claim(agentId, T0 + 20);
      await store.tasks.requeue(taskId, agentId, 'handed back', T0 + 30);
      await store.tasks.place(taskId, agentId, T0 + 40);
      await store.tasks.claim(agentId, T0 + 50);
      assert.deepEqual(
        (await store.ledger.usageOf(taskId)).map((u) => [u.startMs, u.endMs]),
        [
          [T0 + 20, T0 + 30],
          [T0 + 50, null],
        ],
      );
    });

    it('writes nothing when the transaction around a transition fails', async () => {
      const { agentId, taskId } = await placed();
      await assert.rejects(() =>
        store.transaction(async () => {
          await store.tasks.claim(agentId, T0 + 20);
          throw new Error('boom');
        }),
      );
      assert.deepEqual(await store.ledger.usageOf(taskId), []);
    });
  });

  describe('direct recording (pools with their own queue)', () => {
    it('is idempotent: opening twice or closing what is closed changes nothing', async () => {
      const base = {
        agentId: 'a-x',
        name: 'x',
        location: { kind: 'cloud', provider: 'gcp-compute', region: 'europe-west4', zone: 'europe-west4-a' },
        provider: 'gcp-compute',
        providerId: 'gcp-compute:europe-west4',
        instanceId: 'x',
        instanceType: 'n2-standard-4',
        lifecycle: 'on-demand',
        pricePerHourMicros: 194_236,
        capacity: resources({ cpuMillis: 4_000, memoryMiB: 16_384 }),
        intentId: null,
        owners: [],
        startMs: T0,
      } as const;
      await store.ledger.openAgentInterval(base);
      await store.ledger.openAgentInterval({ ...base, startMs: T0 + 5 });
      await store.ledger.closeAgentInterval('a-x', T0 + 100);
      await store.ledger.closeAgentInterval('a-x', T0 + 200);
      assert.deepEqual(
        [(await store.ledger.agentInterval('a-x'))?.startMs, (await store.ledger.agentInterval('a-x'))?.endMs],
        [T0, T0 + 100],
      );

      const run = { taskId: 'slurm-1', agentId: 'a-x', owner: ML, share: 0.25, startMs: T0 + 10 };
      await store.ledger.openUsageInterval(run);
      await store.ledger.openUsageInterval({ ...run, startMs: T0 + 11 });
      await store.ledger.closeUsageInterval('slurm-1', T0 + 50);
      await store.ledger.closeUsageInterval('slurm-1', T0 + 60);
      await store.ledger.closeUsageInterval('never-opened', T0 + 60);
      assert.deepEqual(
        (await store.ledger.usageOf('slurm-1')).map((u) => [u.startMs, u.endMs]),
        [[T0 + 10, T0 + 50]],
      );
    });

    it('reads the intervals overlapping a window, and the open ones', async () => {
      const at = async (startMs: number, endMs: number | null, name: string): Promise<void> => {
        await store.ledger.openAgentInterval({
          agentId: name,
          name,
          location: { kind: 'private', site: 'x' },
          provider: 'private',
          providerId: null,
          instanceId: null,
          instanceType: '',
          lifecycle: 'private',
          pricePerHourMicros: 0,
          capacity: resources({ cpuMillis: 1_000 }),
          intentId: null,
          owners: [],
          startMs,
        });
        if (endMs !== null) await store.ledger.closeAgentInterval(name, endMs);
      };
      await at(T0, T0 + 10, 'before');
      await at(T0, T0 + 100, 'into');
      await at(T0 + 120, T0 + 150, 'inside');
      await at(T0 + 150, null, 'open');
      await at(T0 + 200, T0 + 300, 'after');
      assert.deepEqual(
        (await store.ledger.overlapping(T0 + 50, T0 + 200)).agents.map((a) => a.agentId),
        ['into', 'inside', 'open'],
      );
    });
  });
});
