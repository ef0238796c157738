import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'mocha';
import type { AgentState } from '../../../src/core/agent.ts';
import { ConflictError, NotFoundError } from '../../../src/core/errors.ts';
import { resources, ZERO } from '../../../src/core/resources.ts';
import type { Agent } from '../../../src/core/agent.ts';
import type { NewAgent } from '../../../src/store/store.ts';
import { T0, newTask, privateAgent } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/agents.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */

/** Inserts a registered private agent. */
async function addAgent(store: ContractStore, overrides: Partial<NewAgent> = {}, nowMs = T0): Promise<Agent> {
  return store.agents.insert(privateAgent(overrides), nowMs);
}

describeEachEngine('store contract: agents', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  async function cloudAgent(
    instanceId: string,
    state: AgentState = 'provisioning',
    providerId = 'aws-ec2:us-east-1',
  ): Promise<Agent> {
    return addAgent(store, {
      name: instanceId,
      location: { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' },
      lifecycle: 'spot',
      pricePerHourMicros: 30_000,
      state,
      instanceId,
      providerId,
      intentId: 'intent-1',
    });
  }

  describe('insert', () => {
    it('stores an agent with a new id, the insert time and no allocation', async () => {
      const agent = await addAgent(store, {}, T0 + 3);
      assert.match(agent.id, /^a-/);
      assert.equal(agent.registeredAtMs, T0 + 3);
      assert.equal(agent.lastHeartbeatMs, T0 + 3);
      assert.equal(agent.idleSinceMs, T0 + 3);
      assert.deepEqual(agent.allocated, ZERO);
      assert.deepEqual(await store.agents.get(agent.id), agent);
    });

    it('refuses a second agent for the same provider instance', async () => {
      const first = await cloudAgent('i-1');
      await assert.rejects(
        cloudAgent('i-1'),
        (err: unknown) => err instanceof ConflictError && err.message.includes(first.id),
      );
      await cloudAgent('i-1', 'provisioning', 'gcp-compute:us-central1');
      await addAgent(store, { name: 'rack-2' });
      assert.equal((await store.agents.list()).length, 3);
    });
  });

  it('returns undefined for an unknown agent or instance', async () => {
    assert.equal(await store.agents.get('a-nope'), undefined);
    assert.equal(await store.agents.byInstance('aws-ec2:us-east-1', 'i-nope'), undefined);
  });

  it('finds an agent by its provider instance', async () => {
    const agent = await cloudAgent('i-7');
    assert.deepEqual(await store.agents.byInstance('aws-ec2:us-east-1', 'i-7'), agent);
  });

  it('computes allocation from placed and running tasks only, in get and in list', async () => {
    const busy = await addAgent(store);
    const idle = await addAgent(store, { name: 'rack-2' });
    const [a, b, c, d] = await store.tasks.insert(
      [
        newTask({ resources: resources({ cpuMillis: 1000, memoryMiB: 512, gpus: 1, netMbps: 10 }) }),
        newTask({ resources: resources({ cpuMillis: 500, memoryMiB: 256 }) }),
        newTask({ resources: resources({ cpuMillis: 4000 }) }),
        newTask({ resources: resources({ cpuMillis: 8000 }) }),
      ],
      T0,
    );
    for (const task of [a, b, c]) await store.tasks.place(task!.id, busy.id, T0);
    await store.tasks.claim(busy.id, T0);
    await store.tasks.finish(c!.id, busy.id, { exitCode: 0, outputTail: '' }, T0);
    assert.equal((await store.tasks.get(d!.id))!.state, 'pending');
    const want = { cpuMillis: 1500, memoryMiB: 768, gpus: 1, netMbps: 10 };
    assert.deepEqual((await store.agents.get(busy.id))!.allocated, want);
    const listed = new Map((await store.agents.list()).map((agent) => [agent.id, agent.allocated]));
    assert.deepEqual(listed.get(busy.id), want);
    assert.deepEqual(listed.get(idle.id), ZERO);
  });

  it('lists agents oldest first, filtered by state', async () => {
    const a = await addAgent(store, {}, T0);
    const b = await cloudAgent('i-1');
    const c = await addAgent(store, { state: 'draining' }, T0 + 5);
    assert.deepEqual(
      (await store.agents.list()).map((x) => x.id),
      [a.id, b.id, c.id],
    );
    assert.deepEqual(
      (await store.agents.list({ states: ['registered', 'draining'] })).map((x) => x.id),
      [a.id, c.id],
    );
    assert.deepEqual(await store.agents.list({ states: [] }), []);
  });

  describe('state', () => {
    it("reads an agent's state alone, as it changes, and nothing for an unknown id", async () => {
      const agent = await addAgent(store);
      const booting = await cloudAgent('i-0abc', 'provisioning');
      assert.equal(await store.agents.state(agent.id), 'registered');
      assert.equal(await store.agents.state(booting.id), 'provisioning');
      await store.agents.setState(agent.id, 'draining', 'leaving', T0 + 1);
      assert.equal(await store.agents.state(agent.id), 'draining');
      assert.equal(await store.agents.state('a-nope'), undefined);
    });
  });

  describe('register', () => {
    it('moves a provisioning agent to registered with what it reports', async () => {
      const agent = await cloudAgent('i-1');
      const capacity = resources({ cpuMillis: 1900, memoryMiB: 7800, netMbps: 12_500 });
      const registered = await store.agents.register(agent.id, { capacity, labels: { zone: 'a' } }, T0 + 40);
      assert.equal(registered.state, 'registered');
      assert.deepEqual(registered.capacity, capacity);
      assert.deepEqual(registered.labels, { zone: 'a' });
      assert.equal(registered.lastHeartbeatMs, T0 + 40);
      assert.equal(registered.idleSinceMs, T0 + 40);
      assert.deepEqual(await store.agents.get(agent.id), registered);
    });

    for (const state of ['registered', 'draining', 'terminated', 'lost'] as const) {
      it(`refuses to register a ${state} agent again`, async () => {
        const agent = await cloudAgent('i-1', state);
        await assert.rejects(async () => await store.agents.register(agent.id, { capacity: ZERO, labels: {} }, T0), {
          name: 'ConflictError',
          message: `registering agent ${agent.id}: it is ${state}, not provisioning; an instance registers once`,
        });
        assert.deepEqual(await store.agents.get(agent.id), agent);
      });
    }

    it('throws NotFoundError for an unknown agent', async () => {
      await assert.rejects(
        async () => await store.agents.register('a-nope', { capacity: ZERO, labels: {} }, T0),
        NotFoundError,
      );
    });
  });

  describe('heartbeat', () => {
    it('records the time of the last heartbeat', async () => {
      const agent = await addAgent(store);
      assert.equal((await store.agents.heartbeat(agent.id, T0 + 99)).lastHeartbeatMs, T0 + 99);
      assert.equal((await store.agents.get(agent.id))!.lastHeartbeatMs, T0 + 99);
      await assert.rejects(async () => await store.agents.heartbeat('a-nope', T0), NotFoundError);
    });

    it('returns a lost agent unchanged, so the caller can tell it to stop', async () => {
      const agent = await addAgent(store);
      const lost = await store.agents.setState(agent.id, 'lost', 'heartbeats stopped', T0 + 1);
      assert.deepEqual(await store.agents.heartbeat(agent.id, T0 + 2), lost);
    });
  });

  describe('setState', () => {
    const cases: { from: AgentState; to: AgentState; ok: boolean }[] = [
      { from: 'registered', to: 'draining', ok: true },
      { from: 'draining', to: 'registered', ok: true },
      { from: 'provisioning', to: 'terminated', ok: true },
      { from: 'registered', to: 'lost', ok: true },
      { from: 'lost', to: 'terminated', ok: true },
      { from: 'lost', to: 'registered', ok: false },
      { from: 'lost', to: 'lost', ok: false },
      { from: 'terminated', to: 'registered', ok: false },
      { from: 'terminated', to: 'lost', ok: false },
      { from: 'terminated', to: 'terminated', ok: false },
    ];
    for (const c of cases) {
      it(`${c.ok ? 'moves' : 'refuses to move'} an agent from ${c.from} to ${c.to}`, async () => {
        const agent = await cloudAgent('i-1', c.from);
        if (c.ok) {
          const moved = await store.agents.setState(agent.id, c.to, 'because', T0 + 1);
          assert.equal(moved.state, c.to);
          assert.equal(moved.reason, 'because');
        } else {
          await assert.rejects(
            async () => await store.agents.setState(agent.id, c.to, 'because', T0 + 1),
            (err: unknown) =>
              err instanceof ConflictError &&
              err.message.startsWith(`moving agent ${agent.id} to ${c.to}: it is ${c.from}`),
          );
          assert.deepEqual(await store.agents.get(agent.id), agent);
        }
      });
    }

    for (const state of ['terminated', 'lost'] as const) {
      it(`revokes the tokens of a ${state} agent and returns its tasks to pending`, async () => {
        const agent = await addAgent(store);
        const other = await addAgent(store, { name: 'rack-2' });
        await store.tokens.create({ id: 'tok-1', role: 'agent', name: 'a', agentId: agent.id, createdAtMs: T0 }, 'h1');
        await store.tokens.create({ id: 'tok-2', role: 'agent', name: 'b', agentId: other.id, createdAtMs: T0 }, 'h2');
        const [task] = await store.tasks.insert([newTask()], T0);
        await store.tasks.place(task!.id, agent.id, T0);

        await store.agents.setState(agent.id, state, 'instance vanished', T0 + 8);

        assert.equal((await store.tokens.get('tok-1'))!.revokedAtMs, T0 + 8);
        assert.equal((await store.tokens.get('tok-2'))!.revokedAtMs, null);
        const requeued = (await store.tasks.get(task!.id))!;
        assert.deepEqual([requeued.state, requeued.agentId, requeued.attempts], ['pending', null, 1]);
        assert.match(requeued.reason, new RegExp(`agent ${agent.id} ${state}`));
      });
    }

    it('throws NotFoundError for an unknown agent', async () => {
      await assert.rejects(async () => await store.agents.setState('a-nope', 'draining', 'x', T0), NotFoundError);
    });
  });
});
