import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { Controller, type ControllerOptions } from '../../src/autoscaler/controller.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { CapacityError } from '../../src/core/errors.ts';
import { resetFailpoints } from '../../src/core/failpoints.ts';
import type { Agent } from '../../src/core/agent.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import { resources } from '../../src/core/resources.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewTask, Store } from '../../src/store/store.ts';
import { offering, policy } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { waitFor } from '../helpers/wait.ts';
import { asyncOf } from '../helpers/async-store.ts';

const CLUSTER = 'test-cluster';
const small = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.small',
  pricePerHourMicros: 100_000,
});
const medium = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.medium',
  capacity: { cpuMillis: 2000, memoryMiB: 8192 },
  pricePerHourMicros: 150_000,
});

function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    owner: { team: 'ml', project: 'p', job: 'j' },
    resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
    priority: 0,
    revocable: false,
    constraints: {},
    command: ['true'],
    ...overrides,
  };
}

describe('controller', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  let provider: FakeProvider;

  function controller(
    holderId = 'c1',
    lostAfterMs = 3_600_000,
    rateLimit?: ControllerOptions['rateLimit'],
  ): Controller {
    return new Controller({
      rateLimit,
      store: asyncOf(store),
      pool: new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs }),
      providers: [provider],
      clock,
      logger: silentLogger(),
      settings: { passIntervalMs: 1_000, reconcileEveryPasses: 5, leaseTtlMs: 10_000, unavailableForMs: 60_000 },
      identity: {
        holderId,
        launch: {
          clusterId: CLUSTER,
          controllerUrl: 'http://127.0.0.1:1',
          caBundle: '',
          serverSecret: store.meta.serverSecret(),
        },
      },
    });
  }

  function addPrivateAgents(count: number): void {
    for (let i = 0; i < count; i++) {
      store.agents.insert(
        {
          name: `p${i}`,
          location: { kind: 'private', site: 'lab' },
          capacity: resources({ cpuMillis: 2000, memoryMiB: 4096, netMbps: 1000 }),
          labels: {},
          lifecycle: 'private',
          pricePerHourMicros: 0,
          state: 'registered',
          instanceId: null,
          providerId: null,
          intentId: null,
        },
        clock.now(),
      );
    }
  }

  /** One task past its grace, its instance launched and registered, and the task placed on it by the next pass. */
  async function burstOneTask(): Promise<{ c: Controller; agent: Agent }> {
    store.tasks.insert([newTask()], clock.now());
    clock.advance(5_000);
    const c = controller();
    await c.runPass();
    await c.settle();
    const [agent] = store.agents.list({ states: ['provisioning'] });
    store.agents.register(agent!.id, { capacity: agent!.capacity, labels: {} }, clock.now());
    clock.advance(1_000);
    await c.runPass();
    return { c, agent: agent! };
  }

  function launchIntents(): LaunchIntent[] {
    return store.intents.launches(0);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-controller-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    store.meta.bindClusterId(CLUSTER);
    clock = new ManualClock();
    store.policy.seed(
      policy({ pendingGraceMs: 5_000, idleTtlMs: 10_000, maxProvisionMs: 30_000, unknownInstanceGraceMs: 20_000 }),
      clock.now(),
    );
    provider = new FakeProvider({ offerings: [small, medium], now: () => clock.now() });
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('places on private agents first and launches only after the grace period', async () => {
    addPrivateAgents(2);
    store.tasks.insert(
      Array.from({ length: 6 }, () => newTask()),
      clock.now(),
    );
    const c = controller();
    const first = await c.runPass();
    assert.equal(first.placed, 4);
    assert.deepEqual(first.launches, []);
    clock.advance(4_999);
    assert.deepEqual((await c.runPass()).launches, []);
    clock.advance(1);
    const due = await c.runPass();
    assert.equal(due.launches.length, 1);
    assert.equal(due.launches[0]!.offering.instanceType, 'f.small');
    await c.settle();
    assert.equal(provider.launchCalls().length, 1);
    assert.equal(provider.launchCalls()[0]!.intentId, launchIntents()[0]!.id);
    const provisioning = store.agents.list({ states: ['provisioning'] });
    assert.equal(provisioning.length, 1);
    // The next pass counts the instance on its way and launches nothing more.
    clock.advance(1_000);
    assert.deepEqual((await c.runPass()).launches, []);
  });

  it("launches for a task placement kept off a registered agent it saw, not counting that agent's room as on its way", async () => {
    // A task only f.medium holds ($0.15) bursts, runs on its agent and ends: the agent is idle. A one-CPU task then
    // waits: an idle agent costing more than the task's own cheapest instance (f.small, $0.10) does not take it, so
    // placement keeps it off, and after its grace the pass must launch an f.small for it, not count that agent's free
    // room as capacity on its way (only agents registered after placement are).
    store.tasks.insert([newTask({ resources: resources({ cpuMillis: 1000, memoryMiB: 6144 }) })], clock.now());
    clock.advance(5_000);
    const c = controller();
    await c.runPass();
    await c.settle();
    const [agent] = store.agents.list({ states: ['provisioning'] });
    assert.equal(agent?.intentId, launchIntents()[0]!.id);
    store.agents.register(agent!.id, { capacity: agent!.capacity, labels: {} }, clock.now());
    clock.advance(1_000);
    assert.equal((await c.runPass()).placed, 1);
    const [big] = store.tasks.claim(agent!.id, clock.now());
    store.tasks.finish(big!.id, agent!.id, { exitCode: 0, outputTail: '' }, clock.now());
    const [small1] = store.tasks.insert([newTask()], clock.now());
    clock.advance(5_000);
    const pass = await c.runPass();
    assert.equal(pass.placed, 0);
    assert.equal(store.tasks.get(small1!.id)?.state, 'pending');
    assert.deepEqual(
      pass.launches.map((l) => [l.offering.instanceType, l.taskIds]),
      [['f.small', [small1!.id]]],
    );
  });

  it('stops every launch while paused and resumes after', async () => {
    store.tasks.insert([newTask()], clock.now());
    store.policy.set({ ...store.policy.get(), paused: true }, 'test', clock.now());
    const c = controller();
    clock.advance(60_000);
    const paused = await c.runPass();
    assert.deepEqual(paused.launches, []);
    assert.match(paused.waiting[0]!.reason, /paused/);
    store.policy.set({ ...store.policy.get(), paused: false }, 'test', clock.now());
    assert.equal((await c.runPass()).launches.length, 1);
  });

  it('fails over to the next cheapest offering in the pass after a capacity error', async () => {
    store.tasks.insert([newTask()], clock.now());
    provider.failNext('launch', new CapacityError('launching f.small: no capacity', 'x'));
    const c = controller();
    clock.advance(5_000);
    assert.equal((await c.runPass()).launches[0]!.offering.instanceType, 'f.small');
    await c.settle();
    assert.equal(launchIntents()[0]!.state, 'failed');
    const next = await c.runPass();
    assert.equal(next.launches[0]!.offering.instanceType, 'f.medium');
    await c.settle();
    assert.equal(provider.instances.size, 1);
  });

  it('re-executes an intent whose answer was lost, with the same idempotency key, launching once', async () => {
    store.tasks.insert([newTask()], clock.now());
    clock.advance(5_000);
    process.env.SPILLWAY_FAILPOINTS = 'provider.returned=throw';
    resetFailpoints();
    try {
      const c = controller();
      await c.runPass();
      await c.settle();
      const [intent] = launchIntents();
      assert.equal(intent!.state, 'pending', 'the answer was lost, so the intent stays open');
      assert.equal(intent!.attempts, 1);
      clock.advance(1_000);
      await c.runPass();
      await c.settle();
      const calls = provider.launchCalls();
      assert.equal(calls.length, 2);
      assert.deepEqual(
        calls.map((r) => r.intentId),
        [intent!.id, intent!.id],
      );
      assert.equal(calls[0]!.bootstrap.credential, calls[1]!.bootstrap.credential, 'identical user data on retry');
      assert.equal(provider.instances.size, 1, 'launched once');
      assert.equal(launchIntents()[0]!.state, 'done');
      assert.equal(store.agents.list({ states: ['provisioning'] }).length, 1);
    } finally {
      delete process.env.SPILLWAY_FAILPOINTS;
      resetFailpoints();
    }
  });

  it('carries out an intent that a crash left written but not sent', async () => {
    const intent: LaunchIntent = {
      id: '0b5c1f4e-0000-4000-8000-000000000001',
      kind: 'launch',
      providerId: provider.id,
      offering: small,
      count: 2,
      owners: [],
      reason: 'written before a crash',
      state: 'pending',
      instanceIds: [],
      createdAtMs: clock.now(),
      updatedAtMs: clock.now(),
      attempts: 0,
      error: '',
    };
    store.intents.insert(intent);
    const c = controller();
    await c.runPass();
    await c.settle();
    assert.deepEqual(
      provider.launchCalls().map((r) => r.intentId),
      [intent.id],
    );
    assert.equal(provider.instances.size, 2);
    assert.deepEqual(store.intents.get(intent.id)!.instanceIds.length, 2);
  });

  it('adopts instances of known intents and terminates strays after their grace', async () => {
    store.tasks.insert([newTask()], clock.now());
    clock.advance(5_000);
    const c = controller();
    await c.runPass();
    // The launch reached the cloud but its answer was lost: the intent is still open and knows no instance.
    const intent = launchIntents()[0]!;
    await provider.launch({
      intentId: intent.id,
      clusterId: CLUSTER,
      offering: intent.offering,
      count: 1,
      owner: { team: 'a', project: 'b', job: 'c' },
      bootstrap: { controllerUrl: '', caBundle: '', credential: '' },
    });
    provider.addStray('stray-1', CLUSTER, clock.now());
    provider.addStray('other-cluster', 'someone-else', clock.now() - 999_999);
    await c.settle();
    clock.advance(1_000);
    const c2 = controller('c2');
    store.lease.release('controller', 'c1');
    await c2.runPass();
    await c2.settle();
    assert.equal(store.agents.list({ states: ['provisioning'] }).length, 1);
    assert.ok(provider.instances.has('stray-1'), 'a stray inside its grace stays');
    clock.advance(20_000);
    for (let i = 0; i < 5; i++) {
      clock.advance(1_000);
      await c2.runPass();
    }
    await c2.settle();
    assert.ok(!provider.instances.has('stray-1'), 'the stray is terminated after its grace');
    assert.ok(provider.instances.has('other-cluster'), "another cluster's instance is never touched");
  });

  it('keeps an instance it adopts after a downtime longer than unknownInstanceGraceMs, and runs the task on it', async () => {
    const [waiting] = store.tasks.insert([newTask()], clock.now());
    clock.advance(5_000);
    process.env.SPILLWAY_FAILPOINTS = 'provider.returned=throw';
    resetFailpoints();
    try {
      const c1 = controller('c1');
      await c1.runPass();
      await c1.settle();
    } finally {
      delete process.env.SPILLWAY_FAILPOINTS;
      resetFailpoints();
    }
    // The launch reached the cloud, but the controller died before it recorded the answer.
    assert.equal(provider.instances.size, 1);
    const [instanceId] = provider.instances.keys();
    assert.equal(store.agents.list().length, 0);
    // Down for three times the grace an unknown instance gets: the instance is older than that when it is found.
    const downMs = 3 * store.policy.get().unknownInstanceGraceMs;
    clock.advance(downMs);
    const c2 = controller('c2');
    await c2.runPass();
    await c2.settle();
    const [adopted] = store.agents.list({ states: ['provisioning'] });
    assert.equal(adopted?.instanceId, instanceId, 'the instance its intent launched is adopted as an agent');
    store.agents.register(adopted!.id, { capacity: adopted!.capacity, labels: {} }, clock.now());
    // Passes through two reconciles (every 5 passes): the adopted instance is never terminated.
    for (let i = 0; i < 10; i++) {
      clock.advance(1_000);
      await c2.runPass();
      await c2.settle();
    }
    assert.ok(provider.instances.has(instanceId!), 'the adopted instance still runs');
    assert.deepEqual(
      provider.calls.filter((c) => c.method === 'terminate'),
      [],
      'no terminate call was made',
    );
    assert.equal(store.agents.get(adopted!.id)!.state, 'registered');
    assert.equal(store.tasks.get(waiting!.id)!.agentId, adopted!.id, 'the task that caused the launch runs on it');
  });

  it('marks an agent lost when its instance vanished and returns its tasks to pending', async () => {
    const { c, agent } = await burstOneTask();
    const [task] = store.tasks.list({ states: ['placed'] });
    assert.equal(task!.agentId, agent.id);
    provider.instances.clear();
    for (let i = 0; i < 5; i++) {
      clock.advance(1_000);
      await c.runPass();
    }
    assert.equal(store.agents.get(agent.id)!.state, 'terminated');
    const after = store.tasks.get(task!.id)!;
    assert.notEqual(after.agentId, agent.id);
    assert.equal(after.attempts, 1);
  });

  it('terminates a cloud agent idle past idleTtlMs, and one that never registered', async () => {
    store.tasks.insert(
      [newTask(), newTask({ resources: resources({ cpuMillis: 2000, memoryMiB: 6000 }) })],
      clock.now(),
    );
    clock.advance(5_000);
    const c = controller();
    await c.runPass();
    await c.settle();
    const agents = store.agents.list({ states: ['provisioning'] });
    assert.equal(agents.length, 2);
    const [registered, silent] = agents;
    store.agents.register(registered!.id, { capacity: registered!.capacity, labels: {} }, clock.now());
    // Cancel the work so the registered agent stays idle.
    for (const t of store.tasks.list({ states: ['pending', 'placed'] })) store.tasks.cancel(t.id, 'test', clock.now());
    clock.advance(10_000);
    await c.runPass();
    await c.settle();
    assert.equal(store.agents.get(registered!.id)!.state, 'terminated');
    assert.equal(store.agents.get(silent!.id)!.state, 'provisioning');
    clock.advance(30_000);
    await c.runPass();
    await c.settle();
    assert.equal(store.agents.get(silent!.id)!.state, 'terminated');
    assert.equal(provider.instances.size, 0);
  });

  it('does not act without the lease, and takes over when it expires', async () => {
    store.tasks.insert([newTask()], clock.now());
    clock.advance(5_000);
    const a = controller('a');
    const b = controller('b');
    assert.equal((await a.runPass()).leader, true);
    const standby = await b.runPass();
    assert.equal(standby.leader, false);
    assert.deepEqual(standby.launches, []);
    clock.advance(10_001);
    assert.equal(a.isLeader(), false, 'a no longer claims to lead once its lease would have lapsed, pass or not');
    assert.equal((await b.runPass()).leader, true);
    assert.equal(b.isLeader(), true);
  });

  it('releases every cloud instance, busy or not, on a clean shutdown when asked', async () => {
    store.tasks.insert([newTask(), newTask()], clock.now());
    clock.advance(5_000);
    const c = controller();
    await c.runPass();
    await c.settle();
    const [agent] = store.agents.list({ states: ['provisioning'] });
    store.agents.register(agent!.id, { capacity: agent!.capacity, labels: {} }, clock.now());
    clock.advance(1_000);
    await c.runPass();
    assert.equal(store.tasks.list({ states: ['placed'] }).length, 2);
    assert.equal(await c.releaseAll('shutting down'), 1);
    assert.equal(provider.instances.size, 0);
    assert.equal(store.agents.get(agent!.id)!.state, 'terminated');
    assert.equal(store.tasks.list({ states: ['pending'] }).length, 2, 'its tasks wait again');
  });

  it('does not blame agents for its own downtime: silence counts from when it took the lease', async () => {
    addPrivateAgents(1);
    const [agent] = store.agents.list();
    clock.advance(60_000); // the controller was down for a minute; the agent's last heartbeat is a minute old
    const c = controller('c1', 10_000);
    await c.runPass();
    assert.equal(store.agents.get(agent!.id)!.state, 'registered');
    clock.advance(10_001);
    await c.runPass();
    assert.equal(store.agents.get(agent!.id)!.state, 'lost', 'a silence of lostAfterMs while it watches is lost');
  });

  it('holds a launch already queued when bursting is paused before its call, and a call after the lease is lost', async () => {
    store.tasks.insert(
      [newTask(), newTask({ resources: resources({ cpuMillis: 2000, memoryMiB: 6000 }) })],
      clock.now(),
    );
    clock.advance(5_000);
    // One call now, the next only 1,000 s later: the second launch waits in the queue.
    const c = controller('c1', 3_600_000, () => ({ capacity: 1, refillPerSecond: 0.001 }));
    const pass = await c.runPass();
    assert.equal(pass.launches.length, 2);
    await waitFor('the first launch call', () => provider.launchCalls().length === 1, { intervalMs: 1 });
    store.policy.set({ ...store.policy.get(), paused: true }, 'test', clock.now());
    clock.advance(1_000_000);
    await c.settle();
    assert.equal(
      provider.launchCalls().length,
      1,
      `the queued launch was held: ${JSON.stringify(store.intents.launches(0).map((i) => [i.state, i.error]))}`,
    );
    assert.equal(store.intents.open().length, 1, 'and stays open');

    store.policy.set({ ...store.policy.get(), paused: false }, 'test', clock.now());
    // Another controller takes the lease while this one's next call waits in the queue: the call is held.
    const again = await c.runPass();
    assert.equal(again.leader, true);
    store.lease.release('controller', 'c1');
    assert.ok(store.lease.acquire('controller', 'someone-else', clock.now(), 60_000_000));
    clock.advance(1_000_000);
    await c.settle();
    assert.equal(provider.launchCalls().length, 1, 'no call without the lease');
    assert.equal(store.intents.open().length, 1);
  });

  describe('with budgets', () => {
    it('launches nothing for a team at its cap, says why, and still bursts for other teams', async () => {
      store.budgets.set(
        { name: 'ml-hourly', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros: 1_000, onCap: 'preempt' },
        'test',
        clock.now(),
      );
      const [capped] = store.tasks.insert([newTask()], clock.now());
      const [other] = store.tasks.insert([newTask({ owner: { team: 'web', project: 'p', job: 'j' } })], clock.now());
      clock.advance(5_000);
      const pass = await controller().runPass();
      assert.deepEqual(
        pass.launches.flatMap((l) => l.taskIds),
        [other!.id],
      );
      const reason = store.tasks.get(capped!.id)!.reason;
      assert.match(reason, /ml-hourly/, `the reason names the budget: ${reason}`);
    });

    /** A registered f.small agent launched for team web, with one web task on it and room for one more. */
    async function webAgentWithRoom(): Promise<{ c: Controller; agent: Agent }> {
      store.tasks.insert([newTask({ owner: { team: 'web', project: 'p', job: 'j' } })], clock.now());
      clock.advance(5_000);
      const c = controller();
      await c.runPass();
      await c.settle();
      const [agent] = store.agents.list({ states: ['provisioning'] });
      store.agents.register(agent!.id, { capacity: agent!.capacity, labels: {} }, clock.now());
      clock.advance(1_000);
      await c.runPass();
      assert.equal(store.tasks.list({ states: ['placed'] }).length, 1);
      return { c, agent: agent! };
    }

    // Placing a 1,000-millicore task on a 2,000-millicore f.small ($0.10/h) charges its team at least half of the
    // agent's cost until the next pass can stop it: 1/2 x 0.1 USD/h x 1 s = 13.9 micro-USD. A cap of 10 is below that
    // whatever else the controller reserves; a cap of 1 USD is far above it.
    for (const { capMicros, placed } of [
      { capMicros: 10, placed: false },
      { capMicros: 1_000_000, placed: true },
    ]) {
      it(`${placed ? 'places' : 'does not place'} a task on a cloud agent free room when its team's cap is ${capMicros} micro-USD`, async () => {
        const { c, agent } = await webAgentWithRoom();
        store.budgets.set(
          { name: 'ml-cap', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros, onCap: 'finish' },
          'test',
          clock.now(),
        );
        const [ml] = store.tasks.insert([newTask()], clock.now());
        const [web] = store.tasks.insert([newTask({ owner: { team: 'web', project: 'p', job: 'j2' } })], clock.now());
        const pass = await c.runPass();
        assert.deepEqual(pass.launches, [], 'neither task is due for a launch yet');
        if (placed) {
          assert.equal(store.tasks.get(ml!.id)!.agentId, agent.id, 'the ml task is placed: its cap allows it');
        } else {
          assert.equal(store.tasks.get(ml!.id)!.state, 'pending', 'the ml task waits: placing it would pass its cap');
          assert.equal(store.tasks.get(ml!.id)!.agentId, null);
          assert.equal(store.tasks.get(web!.id)!.agentId, agent.id, 'the web task, under no cap, takes the room');
        }
      });
    }

    it('stops the cloud work of a capped team before the cap is passed, and records alerts', async () => {
      // When the fake cloud stopped billing each instance: the cloud's side of the bill, not the store's.
      const stoppedAtMs = new Map<string, number>();
      const terminate = provider.terminate.bind(provider);
      provider.terminate = async (ids) => {
        for (const id of ids) if (!stoppedAtMs.has(id)) stoppedAtMs.set(id, clock.now());
        return terminate(ids);
      };
      const { c, agent } = await burstOneTask();
      const instance = provider.instances.get(agent.instanceId!)!;
      const [task] = store.tasks.list({ states: ['placed'] });
      store.tasks.claim(agent.id, clock.now());
      assert.equal(store.tasks.get(task!.id)!.state, 'running');
      // Team ml launched the agent and runs the only task on it, so it pays every second of it: f.small at
      // 0.10 USD/h is 27.78 micro-USD a second, about 28 s of it fit under this cap, and one more minute of running
      // (the pass interval plus a 60 s termination allowance) would pass it.
      const capMicros = 2_500;
      store.budgets.set(
        { name: 'ml-tight', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros, onCap: 'preempt' },
        'test',
        clock.now(),
      );
      clock.advance(60_000);
      await c.runPass();
      await c.settle();
      const after = store.tasks.get(task!.id)!;
      const stoppedAgent = store.agents.get(agent.id)!;
      assert.ok(
        after.state === 'pending' || stoppedAgent.state === 'terminated',
        `its work was stopped (task ${after.state}, agent ${stoppedAgent.state})`,
      );
      assert.ok(store.budgets.alerts().length > 0, 'an alert was recorded');
      // Let the controller finish what it started (an idle agent goes after idleTtlMs) and count what the cloud bills.
      for (let i = 0; i < 30 && provider.instances.has(instance.id); i++) {
        clock.advance(1_000);
        await c.runPass();
        await c.settle();
      }
      assert.ok(stoppedAtMs.has(instance.id), 'the instance was terminated');
      const billedSeconds = Math.max(60, Math.ceil((stoppedAtMs.get(instance.id)! - instance.launchedAtMs) / 1_000));
      const spentMicros = (billedSeconds * small.pricePerHourMicros) / 3_600;
      assert.ok(
        spentMicros <= capMicros,
        `team ml was billed ${spentMicros} micro-USD (${billedSeconds} s), cap ${capMicros}`,
      );
      assert.ok(spentMicros > 0.5 * capMicros, `the cap bound: ${spentMicros} of ${capMicros} micro-USD spent`);
    });
  });
});
