import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { AgentState } from '../../src/core/agent.ts';
import { ConflictError, NotFoundError } from '../../src/core/errors.ts';
import { resources, ZERO } from '../../src/core/resources.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores, addAgent, newTask } from './helpers.ts';

describe('sqlite store: agents', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  function cloudAgent(instanceId: string, state: AgentState = 'provisioning', providerId = 'aws-ec2:us-east-1') {
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
    it('stores an agent with a new id, the insert time and no allocation', () => {
      const agent = addAgent(store, {}, T0 + 3);
      assert.match(agent.id, /^a-/);
      assert.equal(agent.registeredAtMs, T0 + 3);
      assert.equal(agent.lastHeartbeatMs, T0 + 3);
      assert.equal(agent.idleSinceMs, T0 + 3);
      assert.deepEqual(agent.allocated, ZERO);
      assert.deepEqual(store.agents.get(agent.id), agent);
    });

    it('refuses a second agent for the same provider instance', () => {
      const first = cloudAgent('i-1');
      assert.throws(
        () => cloudAgent('i-1'),
        (err: unknown) => err instanceof ConflictError && err.message.includes(first.id),
      );
      cloudAgent('i-1', 'provisioning', 'gcp-compute:us-central1');
      addAgent(store, { name: 'rack-2' });
      assert.equal(store.agents.list().length, 3);
    });
  });

  it('returns undefined for an unknown agent or instance', () => {
    assert.equal(store.agents.get('a-nope'), undefined);
    assert.equal(store.agents.byInstance('aws-ec2:us-east-1', 'i-nope'), undefined);
  });

  it('finds an agent by its provider instance', () => {
    const agent = cloudAgent('i-7');
    assert.deepEqual(store.agents.byInstance('aws-ec2:us-east-1', 'i-7'), agent);
  });

  it('computes allocation from placed and running tasks only, in get and in list', () => {
    const busy = addAgent(store);
    const idle = addAgent(store, { name: 'rack-2' });
    const [a, b, c, d] = store.tasks.insert(
      [
        newTask({ resources: resources({ cpuMillis: 1000, memoryMiB: 512, gpus: 1, netMbps: 10 }) }),
        newTask({ resources: resources({ cpuMillis: 500, memoryMiB: 256 }) }),
        newTask({ resources: resources({ cpuMillis: 4000 }) }),
        newTask({ resources: resources({ cpuMillis: 8000 }) }),
      ],
      T0,
    );
    for (const task of [a, b, c]) store.tasks.place(task!.id, busy.id, T0);
    store.tasks.claim(busy.id, T0);
    store.tasks.finish(c!.id, busy.id, { exitCode: 0, outputTail: '' }, T0);
    assert.equal(store.tasks.get(d!.id)!.state, 'pending');
    const want = { cpuMillis: 1500, memoryMiB: 768, gpus: 1, netMbps: 10 };
    assert.deepEqual(store.agents.get(busy.id)!.allocated, want);
    const listed = new Map(store.agents.list().map((agent) => [agent.id, agent.allocated]));
    assert.deepEqual(listed.get(busy.id), want);
    assert.deepEqual(listed.get(idle.id), ZERO);
  });

  it('lists agents oldest first, filtered by state', () => {
    const a = addAgent(store, {}, T0);
    const b = cloudAgent('i-1');
    const c = addAgent(store, { state: 'draining' }, T0 + 5);
    assert.deepEqual(
      store.agents.list().map((x) => x.id),
      [a.id, b.id, c.id],
    );
    assert.deepEqual(
      store.agents.list({ states: ['registered', 'draining'] }).map((x) => x.id),
      [a.id, c.id],
    );
    assert.deepEqual(store.agents.list({ states: [] }), []);
  });

  describe('register', () => {
    it('moves a provisioning agent to registered with what it reports', () => {
      const agent = cloudAgent('i-1');
      const capacity = resources({ cpuMillis: 1900, memoryMiB: 7800, netMbps: 12_500 });
      const registered = store.agents.register(agent.id, { capacity, labels: { zone: 'a' } }, T0 + 40);
      assert.equal(registered.state, 'registered');
      assert.deepEqual(registered.capacity, capacity);
      assert.deepEqual(registered.labels, { zone: 'a' });
      assert.equal(registered.lastHeartbeatMs, T0 + 40);
      assert.equal(registered.idleSinceMs, T0 + 40);
      assert.deepEqual(store.agents.get(agent.id), registered);
    });

    for (const state of ['registered', 'draining', 'terminated', 'lost'] as const) {
      it(`refuses to register a ${state} agent again`, () => {
        const agent = cloudAgent('i-1', state);
        assert.throws(() => store.agents.register(agent.id, { capacity: ZERO, labels: {} }, T0), {
          name: 'ConflictError',
          message: `registering agent ${agent.id}: it is ${state}, not provisioning; an instance registers once`,
        });
        assert.deepEqual(store.agents.get(agent.id), agent);
      });
    }

    it('throws NotFoundError for an unknown agent', () => {
      assert.throws(() => store.agents.register('a-nope', { capacity: ZERO, labels: {} }, T0), NotFoundError);
    });
  });

  describe('heartbeat', () => {
    it('records the time of the last heartbeat', () => {
      const agent = addAgent(store);
      assert.equal(store.agents.heartbeat(agent.id, T0 + 99).lastHeartbeatMs, T0 + 99);
      assert.equal(store.agents.get(agent.id)!.lastHeartbeatMs, T0 + 99);
      assert.throws(() => store.agents.heartbeat('a-nope', T0), NotFoundError);
    });

    it('returns a lost agent unchanged, so the caller can tell it to stop', () => {
      const agent = addAgent(store);
      const lost = store.agents.setState(agent.id, 'lost', 'heartbeats stopped', T0 + 1);
      assert.deepEqual(store.agents.heartbeat(agent.id, T0 + 2), lost);
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
      it(`${c.ok ? 'moves' : 'refuses to move'} an agent from ${c.from} to ${c.to}`, () => {
        const agent = cloudAgent('i-1', c.from);
        if (c.ok) {
          const moved = store.agents.setState(agent.id, c.to, 'because', T0 + 1);
          assert.equal(moved.state, c.to);
          assert.equal(moved.reason, 'because');
        } else {
          assert.throws(
            () => store.agents.setState(agent.id, c.to, 'because', T0 + 1),
            (err: unknown) =>
              err instanceof ConflictError &&
              err.message.startsWith(`moving agent ${agent.id} to ${c.to}: it is ${c.from}`),
          );
          assert.deepEqual(store.agents.get(agent.id), agent);
        }
      });
    }

    for (const state of ['terminated', 'lost'] as const) {
      it(`revokes the tokens of a ${state} agent and returns its tasks to pending`, () => {
        const agent = addAgent(store);
        const other = addAgent(store, { name: 'rack-2' });
        store.tokens.create({ id: 'tok-1', role: 'agent', name: 'a', agentId: agent.id, createdAtMs: T0 }, 'h1');
        store.tokens.create({ id: 'tok-2', role: 'agent', name: 'b', agentId: other.id, createdAtMs: T0 }, 'h2');
        const [task] = store.tasks.insert([newTask()], T0);
        store.tasks.place(task!.id, agent.id, T0);

        store.agents.setState(agent.id, state, 'instance vanished', T0 + 8);

        assert.equal(store.tokens.get('tok-1')!.revokedAtMs, T0 + 8);
        assert.equal(store.tokens.get('tok-2')!.revokedAtMs, null);
        const requeued = store.tasks.get(task!.id)!;
        assert.deepEqual([requeued.state, requeued.agentId, requeued.attempts], ['pending', null, 1]);
        assert.match(requeued.reason, new RegExp(`agent ${agent.id} ${state}`));
      });
    }

    it('throws NotFoundError for an unknown agent', () => {
      assert.throws(() => store.agents.setState('a-nope', 'draining', 'x', T0), NotFoundError);
    });
  });
});
