/**
 * The controller's behaviour that its mutation run (docs/mutation.md, run O) found untested: stopping and releasing,
 * retrying a provider, the fenced tenure, a pool that cannot be read, the offering refresh, the budget hooks, the
 * waiting reasons and the relaunch rule. The real controller, SQLite store, builtin pool and provisioner, with the
 * recording FakeProvider, on a stepped clock; each test builds its own fixture.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { Controller, type ControllerObserver, type ControllerSettings } from '../../src/autoscaler/controller.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { CapacityError, NotFoundError, RefusedError } from '../../src/core/errors.ts';
import type { Instance } from '../../src/core/instance.ts';
import { INTERRUPTION_REASON } from '../../src/core/interruption.ts';
import { offeringKey } from '../../src/core/offering.ts';
import { resources } from '../../src/core/resources.ts';
import type { Logger } from '../../src/log/logger.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import type { Pool } from '../../src/pool/pool.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { LeaseTenure, fencedStore } from '../../src/store/fenced-store.ts';
import { LABEL_INSTANCE_TYPE } from '../../src/providers/local/offerings.ts';
import type { CallOptions, LaunchRequest } from '../../src/providers/provider.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewTask, Store } from '../../src/store/store.ts';
import { offering, policy } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { asyncOf } from '../helpers/async-store.ts';
import { captureLogs, type LogCapture } from '../helpers/log-capture.ts';
import { waitFor } from '../helpers/wait.ts';
import { addAgent, newTask } from '../store/helpers.ts';

const CLUSTER = 'mut-cluster';
const small = offering({ providerId: 'fake:test', provider: 'fake', instanceType: 'f.small', pricePerHourMicros: 100_000 });
const medium = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.medium',
  capacity: { cpuMillis: 4000, memoryMiB: 8192 },
  pricePerHourMicros: 400_000,
});


function bigTask(): NewTask {
  return newTask({ resources: resources({ cpuMillis: 3000, memoryMiB: 6000 }) });
}

describe('controller (behaviour its mutants showed untested)', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  let provider: FakeProvider;
  let logs: LogCapture;
  const started: Controller[] = [];

  interface Options {
    holderId?: string;
    settings?: Partial<ControllerSettings>;
    providers?: FakeProvider[];
    pool?: Pool;
    observer?: ControllerObserver;
    store?: AsyncStore;
    tenure?: LeaseTenure;
    logger?: Logger;
    rateLimit?: ConstructorParameters<typeof Controller>[0]['rateLimit'];
  }

  function controller(o: Options = {}): Controller {
    const s = o.store ?? asyncOf(store);
    return new Controller({
      store: s,
      pool: o.pool ?? new BuiltinPool({ store: s, logger: silentLogger(), lostAfterMs: 3_600_000 }),
      providers: o.providers ?? [provider],
      clock,
      logger: o.logger ?? logs.logger,
      settings: { passIntervalMs: 1_000, reconcileEveryPasses: 1_000, leaseTtlMs: 10_000, unavailableForMs: 60_000, ...o.settings },
      identity: {
        holderId: o.holderId ?? 'c1',
        launch: { clusterId: CLUSTER, controllerUrl: 'http://127.0.0.1:1', caBundle: '', serverSecret: store.meta.serverSecret() },
      },
      ...(o.observer ? { observer: o.observer } : {}),
      ...(o.tenure ? { tenure: o.tenure } : {}),
      ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
    });
  }

  /** Messages logged so far, in order. */
  function messages(): string[] {
    return logs.lines().map((l) => String(l.message));
  }

  /** A terminate intent a crash left open: recorded, its call never sent. */
  function openTerminate(id: string, instanceId: string): void {
    store.intents.insert({
      id,
      kind: 'terminate',
      providerId: provider.id,
      instanceIds: [instanceId],
      reason: 'written before a crash',
      state: 'pending',
      createdAtMs: clock.now(),
      updatedAtMs: clock.now(),
      attempts: 0,
      error: '',
    });
  }

  /** A pass, then every cloud call it queued. */
  async function pass(c: Controller) {
    const report = await c.runPass();
    await c.settle();
    return report;
  }

  /** `count` registered f.small agents, each launched for one task of team ml (placed on it). */
  async function registeredAgents(c: Controller, count = 1) {
    // 1,500 millicores each: one f.small (2,000) holds one.
    store.tasks.insert(Array.from({ length: count }, () => newTask({ resources: resources({ cpuMillis: 1500, memoryMiB: 1024 }) })), clock.now());
    clock.advance(5_000);
    await pass(c);
    const agents = store.agents.list({ states: ['provisioning'] });
    assert.equal(agents.length, count);
    for (const a of agents) store.agents.register(a.id, { capacity: a.capacity, labels: a.labels }, clock.now());
    clock.advance(1_000);
    await pass(c);
    return agents;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-ctl-mutants-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    store.meta.bindClusterId(CLUSTER);
    clock = new ManualClock();
    store.policy.seed(
      policy({ pendingGraceMs: 5_000, idleTtlMs: 600_000, maxProvisionMs: 600_000, unknownInstanceGraceMs: 20_000 }),
      clock.now(),
    );
    provider = new FakeProvider({ offerings: [small, medium], now: () => clock.now() });
    logs = captureLogs();
  });

  afterEach(async () => {
    for (const c of started.splice(0)) await c.stop({ abortCalls: true });
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('stop', () => {
    it('gives the lease up, so another controller leads at once, and no longer claims to lead', async () => {
      const a = controller({ holderId: 'a' });
      const b = controller({ holderId: 'b' });
      assert.equal((await a.runPass()).leader, true);
      assert.equal((await b.runPass()).leader, false, 'b stands by while a holds the lease');
      await a.stop();
      assert.equal(a.isLeader(), false);
      // Well inside a's lease (10 s): only its release lets b lead now.
      clock.advance(1);
      assert.equal((await b.runPass()).leader, true);
      assert.equal(store.lease.holder('controller', clock.now()), 'b');
    });

    it('a standby that stops leaves the leader its lease', async () => {
      const a = controller({ holderId: 'a' });
      const b = controller({ holderId: 'b' });
      await a.runPass();
      await b.runPass();
      await b.stop();
      assert.equal(store.lease.holder('controller', clock.now()), 'a');
      assert.equal(a.isLeader(), true);
    });

    it('with release, terminates every cloud instance it leads; without, leaves them running', async () => {
      const kept = controller();
      await registeredAgents(kept, 1);
      await kept.stop();
      assert.equal(provider.instances.size, 1, 'a plain stop leaves the instance for the next start');
      assert.equal(provider.calls.filter((c) => c.method === 'terminate').length, 0);

      const c = controller({ holderId: 'c2' });
      clock.advance(1);
      await c.runPass();
      await c.stop({ release: 'shutting down' });
      assert.equal(provider.instances.size, 0);
      assert.deepEqual(store.agents.list({ states: ['registered', 'provisioning'] }), []);
      const released = logs.lines().find((l) => l.message === 'released cloud instances');
      assert.deepEqual([released?.count, released?.reason], [1, 'shutting down']);
    });

    it('with release but without the lease, terminates nothing', async () => {
      const a = controller({ holderId: 'a' });
      await registeredAgents(a, 1);
      const b = controller({ holderId: 'b' });
      await b.runPass();
      await b.stop({ release: 'shutting down' });
      assert.equal(provider.instances.size, 1);
      assert.equal(await b.releaseAll('again'), 0);
      assert.equal(provider.instances.size, 1);
    });

    it('with abortCalls, aborts a cloud call in flight and leaves its intent open for the next start', async () => {
      // A launch that answers only when its call is aborted.
      provider.launch = (request: LaunchRequest, opts?: CallOptions): Promise<Instance[]> => {
        provider.calls.push({ method: 'launch', arg: request });
        return new Promise((_resolve, reject) => {
          opts?.signal?.addEventListener('abort', () => reject(opts.signal!.reason as Error));
        });
      };
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      const c = controller();
      assert.equal((await c.runPass()).launches.length, 1);
      await waitFor('the launch call', () => provider.launchCalls().length === 1, { intervalMs: 1 });
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('stop did not abort the call in flight')), 5_000);
      });
      try {
        await Promise.race([c.stop({ abortCalls: true }), hung]);
      } finally {
        clearTimeout(timer);
      }
      const [open] = store.intents.open();
      assert.deepEqual([open?.kind, open?.state], ['launch', 'pending'], 'the aborted launch stays open');
    });
  });

  describe('retrying a provider', () => {
    const east = offering({ providerId: 'fake:us:east', provider: 'fake', instanceType: 'e.small', pricePerHourMicros: 100_000 });
    const west = offering({ providerId: 'fake:west', provider: 'fake', instanceType: 'w.small', pricePerHourMicros: 300_000 });

    /** A controller whose provider fake:us:east refused a launch (a provider-wide breaker is open), at 00:00:05 UTC. */
    async function refused(settings: Partial<ControllerSettings> = {}, withWest = true) {
      const e = new FakeProvider({ id: 'fake:us:east', offerings: [east], now: () => clock.now() });
      const w = new FakeProvider({ id: 'fake:west', offerings: [west], now: () => clock.now() });
      e.failNext('launch', new RefusedError('no subnet', { scope: 'provider', code: 'NoSubnet' }));
      const c = controller({ providers: withWest ? [e, w] : [e], settings });
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      await pass(c);
      assert.equal(e.launchCalls().length, 1);
      return { c, e, w };
    }

    it('shows the open breaker with its reason', async () => {
      const { c } = await refused();
      // Refused at 00:00:05; the first backoff is 60 s.
      assert.deepEqual(
        c.breakers().map((b) => [b.key, b.reason]),
        [['fake:us:east', 'fake:us:east refuses launches: NoSubnet; next try 00:01:05']],
      );
    });

    it('closes the breakers of a provider named by its id or by the part after the kind, and says how many', async () => {
      const { c } = await refused();
      assert.deepEqual(c.retryProvider('fake:west', 'ops'), { providerId: 'fake:west', closed: 0 });
      assert.equal(c.breakers().length, 1);
      assert.deepEqual(c.retryProvider('us:east', 'ops'), { providerId: 'fake:us:east', closed: 1 });
      assert.deepEqual(c.breakers(), []);
      const line = logs.lines().find((l) => l.message === 'retried provider' && l.closed === 1);
      assert.deepEqual([line?.providerId, line?.actor], ['fake:us:east', 'ops']);
    });

    it('refuses a name no provider has, naming the configured ones', async () => {
      const { c } = await refused();
      assert.throws(
        () => c.retryProvider('east', 'ops'),
        (err: unknown) =>
          err instanceof NotFoundError &&
          err.message === 'retrying provider east: no such provider (configured: fake:us:east, fake:west)',
      );
      assert.throws(() => controller({ providers: [] }).retryProvider('x', 'ops'), /\(configured: none\)/);
    });

    it('wakes the loop: the next pass comes after the default 20 ms coalescing, not the interval', async () => {
      const { c, e } = await refused({ passIntervalMs: 600_000 }, false);
      started.push(c);
      c.start();
      // The breaker holds the only provider: the loop sleeps until its retry, 60 s on.
      const asleep = await waitFor('the loop asleep', () => clock.nextWakeAt(), { intervalMs: 2 });
      assert.equal(asleep, clock.now() + 60_000);
      const before = clock.now();
      c.retryProvider('fake:us:east', 'ops');
      const woke = await waitFor(
        'the woken loop asleep or launching',
        () => (e.launchCalls().length > 1 ? 'launched' : clock.nextWakeAt() !== asleep && clock.nextWakeAt()),
        { intervalMs: 2, timeoutMs: 5_000 },
      );
      assert.equal(woke, before + 20, 'the woken loop waits the default 20 ms before its pass');
      clock.set(before + 20);
      await waitFor('the launch after the retry', () => e.launchCalls().length === 2, { intervalMs: 2, timeoutMs: 5_000 });
    });
  });
  describe('the fenced tenure', () => {
    /** A controller writing through a fenced view of the store under its own tenure, as `serve` builds it. */
    function fenced(o: Options = {}): { c: Controller; tenure: LeaseTenure } {
      const tenure = new LeaseTenure('controller');
      const view = fencedStore(asyncOf(store), tenure, clock);
      return { c: controller({ ...o, store: view, tenure }), tenure };
    }

    it('holds the epoch its lease grant carries, and drops it on stop', async () => {
      const { c, tenure } = fenced();
      await c.runPass();
      assert.equal(tenure.epoch(), 1, 'the first grant of this lease');
      await c.stop();
      assert.equal(tenure.held, false);
    });

    it('a lease that lapsed and is taken again is a new tenure: agents are not blamed for the gap', async () => {
      addAgent(store, { name: 'p0', capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }) }, clock.now());
      const [agent] = store.agents.list();
      const tenure = new LeaseTenure('controller');
      const view = fencedStore(asyncOf(store), tenure, clock);
      const c = controller({
        store: view,
        tenure,
        pool: new BuiltinPool({ store: view, logger: silentLogger(), lostAfterMs: 20_000 }),
      });
      await c.runPass();
      // The controller paused for 30 s: its 10 s lease lapsed (nobody took it), the agent's heartbeat is 30 s old.
      clock.advance(30_000);
      await c.runPass();
      assert.equal(tenure.epoch(), 2);
      assert.equal(store.agents.get(agent!.id)!.state, 'registered', 'silence counts from the new tenure');
      assert.equal(messages().filter((m) => m === 'took the lease; acting').length, 2);
      for (const step of [5_000, 5_000, 5_000, 5_000, 1]) {
        clock.advance(step);
        await c.runPass();
      }
      assert.equal(store.agents.get(agent!.id)!.state, 'lost', 'a silence of lostAfterMs within the tenure is lost');
    });

    it('stands by, without acting, when the lease grants no epoch for it', async () => {
      const tenure = new LeaseTenure('controller');
      const view = asyncOf(store);
      let noEpoch = false;
      // A store whose lease, once, grants the lease but then reports no epoch for it (it lapsed in between).
      const lease = new Proxy(view.lease, {
        get: (target, property) => (property === 'epoch' && noEpoch ? async () => undefined : Reflect.get(target, property)),
      });
      const odd = { ...view, lease } as AsyncStore;
      const c = controller({ store: odd, tenure });
      assert.equal((await c.runPass()).leader, true);
      assert.equal(tenure.held, true);
      noEpoch = true;
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      assert.deepEqual(await c.runPass(), { leader: false, placed: 0, launches: [], terminates: [], waiting: [] });
      assert.equal(tenure.held, false);
      assert.equal(c.isLeader(), false);
      await c.settle();
      assert.equal(provider.launchCalls().length, 0);
    });

    it("holds a queued call once another process of the same holder took a new tenure", async () => {
      // Two tasks no one instance holds both of: an f.small and an f.medium, two launches.
      store.tasks.insert([newTask({ resources: resources({ cpuMillis: 1500, memoryMiB: 1024 }) }), bigTask()], clock.now());
      clock.advance(5_000);
      // One call now, the next only after 1,000 s: the second launch waits in the queue.
      const { c } = fenced({ rateLimit: () => ({ capacity: 1, refillPerSecond: 0.001 }) });
      started.push(c);
      assert.equal((await c.runPass()).launches.length, 2);
      await waitFor('the first launch call', () => provider.launchCalls().length === 1, { intervalMs: 1 });
      // Its lease lapses; a restarted process with the same holder id takes it (epoch 2) and sends the queued intent.
      clock.advance(10_001);
      // Its lease outlasts the stepped time below, so the old process's call finds the same holder, not a free lease.
      const restarted = fenced({ logger: silentLogger(), settings: { leaseTtlMs: 10_000_000 } });
      started.push(restarted.c);
      await pass(restarted.c);
      assert.equal(restarted.tenure.epoch(), 2);
      assert.equal(provider.launchCalls().length, 2);
      // The old process's queued call comes due: same holder, old epoch: held, not sent.
      clock.advance(1_000_000);
      await c.settle();
      assert.equal(provider.launchCalls().length, 2, 'the old tenure sent nothing');
      const held = logs.lines().find((l) => l.message === 'held intent');
      assert.match(String(held?.reason), /^this controller's tenure ended: /);
    });

    it('sends nothing when the check of its tenure fails for another reason than a newer tenure', async () => {
      const base = asyncOf(store);
      let broken = false;
      const flaky = {
        ...base,
        transaction: <T,>(fn: () => Promise<T>): Promise<T> =>
          broken ? Promise.reject(new Error('database is locked')) : base.transaction(fn),
      } as AsyncStore;
      const tenure = new LeaseTenure('controller');
      const view = fencedStore(flaky, tenure, clock);
      store.tasks.insert([newTask({ resources: resources({ cpuMillis: 1500, memoryMiB: 1024 }) }), bigTask()], clock.now());
      clock.advance(5_000);
      // One call now, the next after 1,000 s; the lease outlasts that.
      const c = controller({
        store: view,
        tenure,
        settings: { leaseTtlMs: 10_000_000 },
        rateLimit: () => ({ capacity: 1, refillPerSecond: 0.001 }),
      });
      started.push(c);
      assert.equal((await c.runPass()).launches.length, 2);
      await waitFor('the first launch call', () => provider.launchCalls().length === 1, { intervalMs: 1 });
      broken = true;
      clock.advance(1_000_000);
      await c.settle();
      broken = false;
      assert.equal(provider.launchCalls().length, 1, 'the queued call was not sent');
      const warn = logs.lines().find((l) => l.message === 'could not carry out intent');
      assert.equal(warn?.error, 'database is locked');
      assert.equal(store.intents.open().length, 1, 'its intent stays open');
    });

    it('stands by when the store refuses a write of its old tenure mid-pass, and logs why', async () => {
      const tenure = new LeaseTenure('controller');
      const view = fencedStore(asyncOf(store), tenure, clock);
      const pool = new BuiltinPool({ store: view, logger: silentLogger(), lostAfterMs: 3_600_000 });
      let takeOver = false;
      const place = pool.place.bind(pool);
      pool.place = async (...args) => {
        if (takeOver) {
          // Another controller takes over while this pass runs.
          store.lease.release('controller', 'c1');
          assert.ok(store.lease.acquire('controller', 'other', clock.now(), 60_000));
        }
        return place(...args);
      };
      const c = controller({ store: view, tenure, pool, settings: { passIntervalMs: 600_000 } });
      started.push(c);
      c.start();
      await waitFor('the first pass', () => tenure.held && clock.nextWakeAt(), { intervalMs: 2 });
      takeOver = true;
      clock.advance(600_000);
      await waitFor('the refused pass', () => messages().includes('the store refused a write of an old tenure; standing by'), {
        intervalMs: 2,
        timeoutMs: 5_000,
      });
      assert.equal(tenure.held, false);
      assert.equal(c.isLeader(), false);
      assert.ok(!messages().includes('pass failed'));
      const refused = logs.lines().find((l) => l.message === 'the store refused a write of an old tenure; standing by');
      assert.match(String(refused?.error), /newer epoch/);
    });
  });

  describe('a pass', () => {
    it('logs a pass that failed and goes on with the next', async () => {
      const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 });
      let fail = true;
      const observe = pool.observe.bind(pool);
      pool.observe = async () => {
        if (fail) {
          fail = false;
          throw new Error('observe broke');
        }
        return observe();
      };
      const c = controller({ pool, settings: { passIntervalMs: 600_000 } });
      started.push(c);
      c.start();
      await waitFor('the failed pass logged', () => logs.lines().find((l) => l.message === 'pass failed'), { intervalMs: 2, timeoutMs: 5_000 });
      assert.equal(logs.lines().find((l) => l.message === 'pass failed')!.error, 'observe broke');
      assert.ok(!messages().includes('the store refused a write of an old tenure; standing by'));
      assert.equal(c.isLeader(), true, 'a failed pass is no reason to stand by');
    });

    it('acts on nothing when the pool cannot be read, and reads it with the pass time', async () => {
      const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 });
      const syncedAt: number[] = [];
      let broken = true;
      Object.assign(pool, {
        sync: async (nowMs: number) => {
          syncedAt.push(nowMs);
          if (broken) throw new Error('squeue timed out');
        },
      });
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      const c = controller({ pool });
      assert.deepEqual(await pass(c), { leader: true, placed: 0, launches: [], terminates: [], waiting: [] });
      assert.equal(provider.launchCalls().length, 0);
      const warn = logs.lines().find((l) => l.message === 'could not read the pool');
      assert.equal(warn?.error, 'squeue timed out');
      broken = false;
      clock.advance(1_000);
      assert.equal((await pass(c)).launches.length, 1);
      assert.deepEqual(syncedAt, [clock.now() - 1_000, clock.now()]);
    });

    it('reports each pass to the observer, each cloud call, and foreign instances', async () => {
      const passes: unknown[] = [];
      const calls: [string, string][] = [];
      const foreign: [string, number][] = [];
      provider.listIgnoresCluster = true;
      provider.addStray('theirs-1', 'another-cluster', clock.now());
      provider.addStray('theirs-2', 'another-cluster', clock.now());
      const c = controller({
        observer: {
          onPass: (r) => passes.push(r),
          onCall: (intent, outcome) => calls.push([intent.kind, outcome]),
          onForeignInstances: (id, n) => foreign.push([id, n]),
        },
      });
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      const report = await pass(c);
      assert.deepEqual(passes, [report]);
      assert.deepEqual(calls, [['launch', 'done']]);
      assert.deepEqual(foreign, [['fake:test', 2]], 'the first pass reconciles');
      assert.ok(provider.instances.has('theirs-1') && provider.instances.has('theirs-2'));
    });

    it('while paused, leaves an open launch alone (no call, not even a held one) and sends it once resumed', async () => {
      const id = '0b5c1f4e-0000-4000-8000-0000000000bb';
      store.intents.insert({
        id,
        kind: 'launch',
        providerId: provider.id,
        offering: small,
        count: 1,
        owners: [],
        reason: 'written before a crash',
        state: 'pending',
        instanceIds: [],
        createdAtMs: clock.now(),
        updatedAtMs: clock.now(),
        attempts: 0,
        error: '',
      });
      store.policy.set({ ...store.policy.get(), paused: true }, 'test', clock.now());
      const c = controller();
      await pass(c);
      assert.equal(provider.launchCalls().length, 0);
      assert.equal(store.intents.get(id)!.state, 'pending');
      assert.ok(!messages().includes('held intent'), 'the pass did not even queue it');
      store.policy.set({ ...store.policy.get(), paused: false }, 'test', clock.now());
      clock.advance(1_000);
      await pass(c);
      assert.deepEqual(provider.launchCalls().map((r) => r.intentId), [id]);
    });

    it('while paused, still terminates an idle agent past its time', async () => {
      const c = controller();
      const [agent] = await registeredAgents(c, 1);
      for (const t of store.tasks.list({ states: ['pending', 'placed'] })) store.tasks.cancel(t.id, 'test', clock.now());
      store.policy.set({ ...store.policy.get(), paused: true }, 'test', clock.now());
      clock.advance(600_000);
      await pass(c);
      assert.equal(store.agents.get(agent!.id)!.state, 'terminated');
      assert.equal(provider.instances.size, 0);
    });
  });
  describe('offerings', () => {
    it('refreshes them at the first pass and then every offeringsEveryPasses, 60 by default', async () => {
      const refreshesIn = async (passes: number, settings: Partial<ControllerSettings>): Promise<number[]> => {
        const p = new FakeProvider({ id: provider.id, offerings: [small], now: () => clock.now() });
        const c = controller({ providers: [p], settings });
        const at: number[] = [];
        for (let i = 1; i <= passes; i++) {
          const before = p.calls.filter((x) => x.method === 'offerings').length;
          await c.runPass();
          if (p.calls.filter((x) => x.method === 'offerings').length > before) at.push(i);
        }
        await c.stop();
        return at;
      };
      assert.deepEqual(await refreshesIn(9, { offeringsEveryPasses: 4 }), [1, 4, 8]);
      assert.deepEqual(await refreshesIn(120, {}), [1, 60, 120]);
    });

    it('asks again at the next pass when it has none', async () => {
      provider.failNext('offerings', new Error('DescribeInstanceTypes timed out'));
      const c = controller();
      await c.runPass();
      await c.runPass();
      assert.equal(provider.calls.filter((x) => x.method === 'offerings').length, 2);
    });

    it("keeps a provider's last offerings when it cannot list them, and takes the others' new ones", async () => {
      const cheap = offering({ providerId: 'fake:a', provider: 'fake', instanceType: 'a.small', pricePerHourMicros: 50_000 });
      const dear = offering({ providerId: 'fake:b', provider: 'fake', instanceType: 'b.small', pricePerHourMicros: 90_000 });
      const a = new FakeProvider({ id: 'fake:a', offerings: [cheap], now: () => clock.now() });
      const b = new FakeProvider({ id: 'fake:b', offerings: [dear], now: () => clock.now() });
      const c = controller({ providers: [a, b], settings: { offeringsEveryPasses: 2 } });
      await c.runPass();
      a.failNext('offerings', new Error('throttled'));
      store.tasks.insert([newTask()], clock.now() - 5_000);
      const second = await pass(c);
      assert.deepEqual(second.launches.map((l) => l.offering.instanceType), ['a.small']);
      const kept = logs.lines().find((l) => l.message === 'kept last offerings');
      assert.deepEqual([kept?.providerId, kept?.error], ['fake:a', 'throttled']);
    });
  });

  describe('budgets', () => {
    /** A registered f.small agent launched for team web, running a web task and an ml task (room for both). */
    async function sharedAgent(c: Controller) {
      const [web] = store.tasks.insert([newTask({ owner: { team: 'web', project: 'p', job: 'j' } })], clock.now());
      clock.advance(5_000);
      await pass(c);
      const [agent] = store.agents.list({ states: ['provisioning'] });
      store.agents.register(agent!.id, { capacity: agent!.capacity, labels: {} }, clock.now());
      const [ml] = store.tasks.insert([newTask()], clock.now());
      clock.advance(1_000);
      await pass(c);
      assert.deepEqual(store.tasks.claim(agent!.id, clock.now()).map((t) => t.id).sort(), [web!.id, ml!.id].sort());
      return { agent: agent!, web: web!, ml: ml! };
    }

    const mlCap = { name: 'ml-cap', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros: 1, onCap: 'preempt' } as const;

    it("stops a capped team's task on an agent another team launched, and leaves the agent to that team", async () => {
      const c = controller();
      const { agent, web, ml } = await sharedAgent(c);
      store.budgets.set(mlCap, 'test', clock.now());
      clock.advance(1_000);
      await pass(c);
      const stopped = store.tasks.get(ml.id)!;
      assert.equal(stopped.state, 'pending');
      assert.match(stopped.reason, /budget 'ml-cap'/);
      assert.equal(store.tasks.get(web.id)!.state, 'running');
      assert.equal(store.agents.get(agent.id)!.state, 'registered');
      assert.equal(provider.calls.filter((x) => x.method === 'terminate').length, 0);
      assert.ok(logs.lines().some((l) => l.message === 'preempting for a budget' && l.taskId === ml.id));
    });

    it('goes on when a task it stops finished meanwhile, and fails the pass on any other error', async () => {
      const view = asyncOf(store);
      let race: 'finish' | 'break' | undefined;
      const tasks = new Proxy(view.tasks, {
        get: (target, property) =>
          property === 'requeue' && race !== undefined
            ? async (taskId: string, agentId: string, reason: string, nowMs: number) => {
                if (race === 'break') throw new Error('disk I/O error');
                store.tasks.finish(taskId, agentId, { exitCode: 0, outputTail: '' }, nowMs);
                return view.tasks.requeue(taskId, agentId, reason, nowMs);
              }
            : Reflect.get(target, property),
      });
      const c = controller({ store: { ...view, tasks } as AsyncStore });
      const { ml } = await sharedAgent(c);
      store.budgets.set(mlCap, 'test', clock.now());
      clock.advance(1_000);
      race = 'break';
      await assert.rejects(c.runPass(), /disk I\/O error/);
      race = 'finish';
      clock.advance(1_000);
      assert.equal((await pass(c)).leader, true);
      assert.equal(store.tasks.get(ml.id)!.state, 'succeeded');
    });

    it('tells the observer and the log of each new alert', async () => {
      const alerts: { budgetName: string; percent: number }[] = [];
      const c = controller({ observer: { onBudgetAlert: (a) => alerts.push(a) } });
      await sharedAgent(c);
      // A cap team ml's running task has passed within seconds (it pays half of a 0.10 USD/h agent); `finish`: no
      // preemption, only the alerts.
      store.budgets.set({ ...mlCap, capMicros: 10, onCap: 'finish' }, 'test', clock.now());
      clock.advance(10_000);
      await pass(c);
      const recorded = store.budgets.alerts();
      assert.ok(recorded.some((a) => a.percent === 100), JSON.stringify(recorded));
      assert.deepEqual(
        alerts.map((a) => `${a.budgetName}@${a.percent}`).sort(),
        recorded.map((a) => `${a.budgetName}@${a.percent}`).sort(),
      );
      assert.deepEqual(
        logs.lines().filter((l) => l.message === 'budget alert').map((l) => `${String(l.budgetName)}@${String(l.percent)}`).sort(),
        recorded.map((a) => `${a.budgetName}@${a.percent}`).sort(),
      );
    });
  });

  describe('waiting reasons', () => {
    it('notes why each task waits, logs a change once, and says a launched task waits for its instance', async () => {
      store.budgets.set({ name: 'ml-zero', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros: 1, onCap: 'preempt' }, 'test', clock.now());
      const [capped] = store.tasks.insert([newTask()], clock.now());
      const [other] = store.tasks.insert([newTask({ owner: { team: 'web', project: 'p', job: 'j' } })], clock.now());
      clock.advance(5_000);
      const c = controller();
      const first = await pass(c);
      assert.deepEqual(first.launches.flatMap((l) => l.taskIds), [other!.id]);
      assert.equal(store.tasks.get(other!.id)!.reason, 'waits for f.small being launched');
      assert.match(store.tasks.get(capped!.id)!.reason, /ml-zero/);
      const waits = () => logs.lines().filter((l) => l.message === 'task waits');
      assert.deepEqual(waits().map((l) => l.taskId), [capped!.id], 'logged for the waiting task only');
      clock.advance(1_000);
      await pass(c);
      assert.equal(waits().length, 1, 'the same reason is not logged again');
    });

    it("writes the pool's own explanation of why tasks wait, and tells the pool the reasons", async () => {
      const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 });
      const told: { taskId: string; reason: string }[] = [];
      Object.assign(pool, {
        explainWaiting: (waiting: readonly { taskId: string; reason: string }[]) =>
          waiting.map((w) => ({ taskId: w.taskId, reason: `${w.reason} (and the pool says so)` })),
        noteWaiting: (waiting: readonly { taskId: string; reason: string }[]) => told.push(...waiting),
      });
      const [task] = store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      await pass(controller({ pool }));
      const expected = 'waits for f.small being launched (and the pool says so)';
      assert.equal(store.tasks.get(task!.id)!.reason, expected);
      assert.deepEqual(told, [{ taskId: task!.id, reason: expected }]);
    });
  });

  describe('relaunch times', () => {
    it('releases an idle agent once its idle time has cost what a relaunch of its offering would (its boot time)', async () => {
      const slowBoot = offering({ ...small, bootMs: 90_000 });
      provider = new FakeProvider({ offerings: [slowBoot], now: () => clock.now() });
      const c = controller();
      const [agent] = await registeredAgents(c, 1);
      for (const t of store.tasks.list({ states: ['pending', 'placed'] })) store.tasks.cancel(t.id, 'test', clock.now());
      const idleSince = store.agents.get(agent!.id)!.idleSinceMs!;
      clock.set(idleSince + 89_999);
      await pass(c);
      assert.equal(store.agents.get(agent!.id)!.state, 'registered', 'kept before 90 s idle');
      clock.set(idleSince + 90_000);
      await pass(c);
      assert.equal(store.agents.get(agent!.id)!.state, 'terminated', 'released at 90 s idle, long before idleTtlMs');
    });
  });

  describe('scale-down', () => {
    it('terminates the instance of an agent that went silent (lost), in the pass that finds it lost', async () => {
      const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 10_000 });
      const c = controller({ pool, settings: { leaseTtlMs: 60_000 } });
      const [agent] = await registeredAgents(c, 1);
      // Its heartbeat was at registration; nothing since.
      clock.advance(10_001);
      const report = await pass(c);
      assert.deepEqual(report.terminates.map((t) => t.agentId), [agent!.id]);
      assert.equal(provider.instances.size, 0);
      assert.equal(store.agents.get(agent!.id)!.state, 'terminated');
    });

    it('does not choose again an agent whose terminate is still open, and plans launches meanwhile', async () => {
      const c = controller();
      const [agent] = await registeredAgents(c, 1);
      for (const t of store.tasks.list({ states: ['pending', 'placed'] })) store.tasks.cancel(t.id, 'test', clock.now());
      provider.failNext('terminate', new Error('RequestLimitExceeded'));
      clock.advance(60_000);
      assert.deepEqual((await pass(c)).terminates.map((t) => t.agentId), [agent!.id]);
      const [open] = store.intents.open();
      assert.deepEqual([open?.kind, open?.state], ['terminate', 'pending'], 'the failed call is retried later');
      // A due task meanwhile: the open terminate is not capacity on its way.
      store.tasks.insert([newTask()], clock.now() - 5_000);
      clock.advance(1);
      const next = await c.runPass();
      assert.deepEqual(next.terminates, [], 'the agent is not chosen again');
      assert.deepEqual(next.launches.map((l) => l.offering.instanceType), ['f.small']);
      assert.equal(store.intents.open().filter((i) => i.kind === 'terminate').length, 1, 'one terminate intent, not two');
      await c.settle();
    });
  });

  describe('a pool with its own scheduler', () => {
    it('terminates only the agents the pool lets go, and the others once it does', async () => {
      const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 });
      let letGo = false;
      const asked: (string | null)[][] = [];
      Object.assign(pool, {
        release: async <T extends { agentId: string | null }>(requests: readonly T[]): Promise<T[]> => {
          asked.push(requests.map((r) => r.agentId));
          return letGo ? [...requests] : [];
        },
      });
      const c = controller({ pool });
      const [agent] = await registeredAgents(c, 1);
      for (const t of store.tasks.list({ states: ['pending', 'placed'] })) store.tasks.cancel(t.id, 'test', clock.now());
      clock.advance(600_000);
      assert.deepEqual((await pass(c)).terminates, []);
      assert.deepEqual(asked.at(-1), [agent!.id], 'scale-down chose it, and asked the pool');
      assert.equal(store.agents.get(agent!.id)!.state, 'registered', 'the pool holds it back');
      assert.equal(provider.instances.size, 1);
      letGo = true;
      clock.advance(1_000);
      assert.deepEqual((await pass(c)).terminates.map((t) => t.agentId), [agent!.id]);
      assert.equal(provider.instances.size, 0);
    });
  });

  describe('the fence check', () => {
    it('without a tenure, runs no empty transaction (before a cloud call, or to terminate nothing)', async () => {
      // The store as the controller sees it, counting transactions in which no repository method was called.
      const base = asyncOf(store);
      let repoCalls = 0;
      let empty = 0;
      const counted = new Proxy(base, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property);
          if (property === 'transaction') {
            return <T,>(fn: () => Promise<T>): Promise<T> => {
              const before = repoCalls;
              return target.transaction(async () => {
                const result = await fn();
                if (repoCalls === before) empty++;
                return result;
              });
            };
          }
          if (typeof value !== 'object' || value === null) return value;
          return new Proxy(value, {
            get(repo, method) {
              const f: unknown = Reflect.get(repo, method);
              if (typeof f !== 'function') return f;
              return (...args: unknown[]): unknown => {
                repoCalls++;
                return (f as (...a: unknown[]) => unknown).apply(repo, args);
              };
            },
          });
        },
      });
      const c = controller({ store: counted });
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      await pass(c);
      assert.equal(provider.calls.filter((call) => call.method === 'launch').length, 1, 'the pass launched');
      assert.equal(empty, 0);
    });
  });

  describe('releaseAll', () => {
    it('gives up open launches, terminates known and unknown instances of the cluster, and never a foreign one', async () => {
      const foreign: [string, number][] = [];
      const c = controller({ observer: { onForeignInstances: (id, n) => foreign.push([id, n]) } });
      await registeredAgents(c, 1);
      // A launch queued but not sent, an instance of the cluster no agent knows, and another cluster's instance.
      store.tasks.insert([newTask({ resources: resources({ cpuMillis: 3000, memoryMiB: 6000 }) })], clock.now() - 5_000);
      provider.failNext('launch', new Error('no answer'));
      await pass(c);
      const [open] = store.intents.open();
      assert.equal(open?.kind, 'launch');
      provider.addStray('ours-unknown', CLUSTER, clock.now());
      provider.addStray('theirs', 'another-cluster', clock.now());
      provider.listIgnoresCluster = true;
      foreign.length = 0;
      assert.equal(await c.releaseAll('shutting down'), 2);
      assert.equal(store.intents.get(open!.id)!.state, 'failed');
      assert.equal(store.intents.get(open!.id)!.error, 'given up: shutting down');
      assert.deepEqual([...provider.instances.keys()], ['theirs']);
      assert.deepEqual(foreign, [['fake:test', 1]]);
      assert.deepEqual(store.intents.open(), []);
    });

    it('still releases the instances it knows when a provider cannot list', async () => {
      const c = controller();
      await registeredAgents(c, 2);
      const lab = addAgent(store, { name: 'lab-0', capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }) }, clock.now());
      provider.failNext('list', new Error('DescribeInstances timed out'));
      assert.equal(await c.releaseAll('shutting down'), 2);
      assert.equal(provider.instances.size, 0);
      assert.equal(store.agents.get(lab.id)!.state, 'registered', 'a private agent is never released');
      const warn = logs.lines().find((l) => l.message === 'could not list instances to release');
      assert.deepEqual([warn?.providerId, warn?.error], ['fake:test', 'DescribeInstances timed out']);
    });

    it("names a listed instance's agent in its terminate decision, even one the store already calls terminated", async () => {
      const c = controller();
      const [agent] = await registeredAgents(c, 1);
      // Its terminate went through on our side, but the cloud still lists the instance (a delete that did not take).
      store.agents.setState(agent!.id, 'draining', 'test', clock.now());
      store.agents.setState(agent!.id, 'terminated', 'test', clock.now());
      assert.equal(await c.releaseAll('shutting down'), 1);
      const decided = logs.lines().filter((l) => l.message === 'decided terminate');
      assert.deepEqual(
        decided.map((l) => [l.instanceId, l.agentId, l.reason]),
        [[agent!.instanceId, agent!.id, 'shutting down']],
      );
      assert.equal(provider.instances.size, 0);
    });

    it('does not terminate again what an open terminate intent covers, and carries that intent out', async () => {
      const c = controller();
      const [agent] = await registeredAgents(c, 2);
      // A terminate recorded before a crash, not sent.
      openTerminate('0b5c1f4e-0000-4000-8000-0000000000aa', agent!.instanceId!);
      assert.equal(await c.releaseAll('shutting down'), 1, 'only the other instance is a new terminate');
      assert.equal(provider.instances.size, 0);
      assert.equal(store.intents.get('0b5c1f4e-0000-4000-8000-0000000000aa')!.state, 'done');
    });
  });
  describe('leading', () => {
    it('claims to lead until leaseTtlMs after the renewal it asked for, not a moment longer', async () => {
      const c = controller();
      const askedAt = clock.now();
      await c.runPass();
      clock.set(askedAt + 9_999);
      assert.equal(c.isLeader(), true);
      clock.set(askedAt + 10_000);
      assert.equal(c.isLeader(), false);
    });

    it('logs once that it lost the lease, and a standby that never led says nothing', async () => {
      const a = controller({ holderId: 'a' });
      const b = controller({ holderId: 'b' });
      await a.runPass();
      await b.runPass();
      assert.ok(!messages().includes('lost the lease; standing by'));
      clock.advance(10_000);
      await b.runPass();
      await a.runPass();
      assert.equal(messages().filter((m) => m === 'lost the lease; standing by').length, 1);
      await a.runPass();
      assert.equal(messages().filter((m) => m === 'lost the lease; standing by').length, 1);
      assert.deepEqual(
        logs.lines().filter((l) => l.message === 'took the lease; acting').map((l) => l.holderId),
        ['a', 'b'],
      );
    });

    it('reconciles at the first pass and every reconcileEveryPasses', async () => {
      const c = controller({ settings: { reconcileEveryPasses: 3 } });
      const at: number[] = [];
      for (let i = 1; i <= 7; i++) {
        const before = provider.calls.filter((x) => x.method === 'list').length;
        await c.runPass();
        if (provider.calls.filter((x) => x.method === 'list').length > before) at.push(i);
      }
      assert.deepEqual(at, [1, 3, 6]);
    });
  });

  describe('placement', () => {
    it('does not put a task on idle room dearer than its own instance while that instance may still come', async () => {
      // An idle registered f.medium (0.40 USD/h), launched for a big task that was then cancelled.
      const [big] = store.tasks.insert([newTask({ resources: resources({ cpuMillis: 3000, memoryMiB: 6000 }) })], clock.now());
      clock.advance(5_000);
      const c = controller();
      await pass(c);
      const [agent] = store.agents.list({ states: ['provisioning'] });
      assert.equal(agent?.pricePerHourMicros, medium.pricePerHourMicros);
      store.agents.register(agent!.id, { capacity: agent!.capacity, labels: {} }, clock.now());
      store.tasks.cancel(big!.id, 'test', clock.now());
      // A small task (its own f.small costs 0.10 USD/h) and another big one (its own would be an f.medium).
      const [smallTask] = store.tasks.insert([newTask()], clock.now());
      const [bigTask] = store.tasks.insert([newTask({ resources: resources({ cpuMillis: 3000, memoryMiB: 6000 }) })], clock.now());
      clock.advance(1_000);
      assert.equal((await pass(c)).placed, 1);
      assert.equal(store.tasks.get(bigTask!.id)!.agentId, agent!.id);
      assert.equal(store.tasks.get(smallTask!.id)!.state, 'pending');
    });
  });

  describe('launch admission with the default timing', () => {
    // Team ml's only task would launch an f.small (0.10 USD/h, per-second billing with a 60 s minimum). With the
    // defaults, a launch reserves its cost for launchAllowanceMs (120 s) + passIntervalMs (1 s) +
    // terminationAllowanceMs (60 s) = 181 s: 181 x 100,000 / 3,600 = 5,027.8, rounded 5,028 micro-USD, plus 2 of
    // rounding allowance: 5,030.
    for (const { capMicros, launched } of [
      { capMicros: 5_030, launched: true },
      { capMicros: 5_029, launched: false },
    ]) {
      it(`${launched ? 'launches' : 'does not launch'} under a preempt cap of ${capMicros} micro-USD`, async () => {
        store.budgets.set({ name: 'ml-cap', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros, onCap: 'preempt' }, 'test', clock.now());
        store.tasks.insert([newTask()], clock.now());
        clock.advance(5_000);
        const report = await pass(controller());
        assert.deepEqual(report.launches.map((l) => l.offering.instanceType), launched ? ['f.small'] : []);
      });
    }
  });
  describe('capacity errors', () => {
    it('keeps a failed offering out of plans for unavailableForMs exactly, and logs it', async () => {
      const [a] = store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      provider.failNext('launch', new CapacityError('launching f.small: no capacity', 'InsufficientInstanceCapacity'));
      const c = controller({ settings: { unavailableForMs: 10_000 } });
      await pass(c);
      const markedAt = clock.now();
      const line = logs.lines().find((l) => l.message === 'marked offering unavailable');
      assert.deepEqual([line?.offering, line?.forMs], [offeringKey(small), 10_000]);
      assert.match(String(line?.reason), /no capacity/);
      store.tasks.cancel(a!.id, 'test', clock.now());
      // Due exactly when the offering comes back.
      clock.set(markedAt + 5_000);
      store.tasks.insert([newTask()], clock.now());
      clock.set(markedAt + 9_999);
      assert.deepEqual((await pass(c)).launches, [], 'not due yet');
      clock.set(markedAt + 10_000);
      assert.deepEqual((await pass(c)).launches.map((l) => l.offering.instanceType), ['f.small']);
    });
  });
  describe('spot interruptions', () => {
    it("replaces an interrupted agent's task at once, on another offering than the reclaimed pool", async () => {
      const c = controller();
      const [agent] = await registeredAgents(c, 1);
      const [task] = store.tasks.list({ states: ['placed'] });
      assert.equal(task?.agentId, agent!.id);
      assert.equal(store.agents.get(agent!.id)!.labels[LABEL_INSTANCE_TYPE], 'f.small');
      // The agent's notice, as the registry records it: draining, its tasks back to pending with the notice's reason.
      store.agents.setState(agent!.id, 'draining', INTERRUPTION_REASON, clock.now());
      store.tasks.requeueAgent(agent!.id, INTERRUPTION_REASON, clock.now());
      clock.advance(1);
      const report = await pass(c);
      assert.deepEqual(
        report.launches.map((l) => [l.offering.instanceType, l.taskIds]),
        [['f.medium', [task!.id]]],
        'within its grace period, and not on f.small',
      );
    });
  });
  describe('more of what its mutants showed', () => {
    it('logs why it holds a queued call: bursting paused, then the lease held by another', async () => {
      store.tasks.insert([newTask({ resources: resources({ cpuMillis: 1500, memoryMiB: 1024 }) }), bigTask()], clock.now());
      clock.advance(5_000);
      // One call now, the next 100 s later (well within maxProvisionMs); the lease outlasts it all.
      const c = controller({ settings: { leaseTtlMs: 10_000_000 }, rateLimit: () => ({ capacity: 1, refillPerSecond: 0.01 }) });
      started.push(c);
      assert.equal((await c.runPass()).launches.length, 2);
      await waitFor('the first launch call', () => provider.launchCalls().length === 1, { intervalMs: 1 });
      const heldReasons = () => logs.lines().filter((l) => l.message === 'held intent').map((l) => l.reason);
      store.policy.set({ ...store.policy.get(), paused: true }, 'test', clock.now());
      clock.advance(100_000);
      await c.settle();
      assert.equal(provider.launchCalls().length, 1);
      assert.deepEqual(heldReasons(), ['bursting is paused']);
      store.policy.set({ ...store.policy.get(), paused: false }, 'test', clock.now());
      await c.runPass();
      store.lease.release('controller', 'c1');
      assert.ok(store.lease.acquire('controller', 'other', clock.now(), 10_000_000));
      clock.advance(100_000);
      await c.settle();
      assert.equal(provider.launchCalls().length, 1);
      assert.deepEqual(heldReasons(), ['bursting is paused', 'this controller does not hold the lease']);
      assert.equal(store.intents.open().length, 1);
    });

    it('a plain stop lets a call in flight finish; abortCalls aborts it with the reason', async () => {
      let answer: (() => void) | undefined;
      const launch = provider.launch.bind(provider);
      provider.launch = (request: LaunchRequest, opts?: CallOptions): Promise<Instance[]> =>
        new Promise<Instance[]>((resolve, reject) => {
          opts?.signal?.addEventListener('abort', () => reject(opts.signal!.reason as Error));
          answer = () => resolve(launch(request));
        });
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      const c = controller();
      await c.runPass();
      await waitFor('the launch call', () => answer !== undefined, { intervalMs: 1 });
      const stopping = c.stop();
      // A turn of the event loop: stop has stopped its loop and is waiting for the call (aborting it would come first).
      await new Promise((resolve) => setImmediate(resolve));
      answer!();
      await stopping;
      assert.deepEqual(store.intents.launches(0).map((i) => i.state), ['done'], 'the call ended as the cloud answered');
    });

    it('names the abort as the reason of the aborted call', async () => {
      provider.launch = (request: LaunchRequest, opts?: CallOptions): Promise<Instance[]> => {
        provider.calls.push({ method: 'launch', arg: request });
        return new Promise((_resolve, reject) => {
          opts?.signal?.addEventListener('abort', () => reject(opts.signal!.reason as Error));
        });
      };
      store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      const c = controller();
      await c.runPass();
      await waitFor('the launch call', () => provider.launchCalls().length === 1, { intervalMs: 1 });
      await c.stop({ abortCalls: true });
      assert.match(logs.text(), /controller stopping/);
    });

    it('an observer may leave out any hook', async () => {
      provider.listIgnoresCluster = true;
      provider.addStray('theirs', 'another-cluster', clock.now());
      const c = controller({ observer: {} });
      await registeredAgents(c, 1);
      store.budgets.set({ name: 'ml-tiny', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros: 10, onCap: 'finish' }, 'test', clock.now());
      clock.advance(10_000);
      await pass(c);
      assert.ok(store.budgets.alerts().length > 0, 'an alert was due');
      const ignoredBefore = logs.lines().filter((l) => l.message === 'ignored foreign instances').length;
      assert.equal(await c.releaseAll('shutting down'), 1);
      assert.ok(!messages().includes('could not carry out intent'), messages().join(', '));
      assert.ok(!messages().includes('could not list instances to release'));
      assert.deepEqual([...provider.instances.keys()], ['theirs']);
      const ignored = logs.lines().filter((l) => l.message === 'ignored foreign instances');
      assert.equal(ignored.length, ignoredBefore + 1);
      assert.deepEqual(ignored.at(-1)?.instanceIds, ['theirs'], 'releaseAll names what it left alone');
      assert.deepEqual(ignored.at(-1)?.providerId, 'fake:test');
    });

    it('releases only agents not yet terminated', async () => {
      const c = controller();
      const [first, second] = await registeredAgents(c, 2);
      // The first agent's task is cancelled: idle, it is released after 60 s (its relaunch's minimum bill).
      const [task] = store.tasks.list({ states: ['placed'] }).filter((t) => t.agentId === first!.id);
      store.tasks.cancel(task!.id, 'test', clock.now());
      clock.advance(60_000);
      await pass(c);
      assert.equal(store.agents.get(first!.id)!.state, 'terminated');
      assert.equal(await c.releaseAll('shutting down'), 1, 'only the second agent');
      assert.equal(store.agents.get(second!.id)!.state, 'terminated');
    });

    it('while paused, carries out a terminate a crash left open', async () => {
      const c = controller();
      const [agent] = await registeredAgents(c, 1);
      openTerminate('0b5c1f4e-0000-4000-8000-0000000000cc', agent!.instanceId!);
      store.policy.set({ ...store.policy.get(), paused: true }, 'test', clock.now());
      clock.advance(1_000);
      await pass(c);
      assert.equal(store.intents.get('0b5c1f4e-0000-4000-8000-0000000000cc')!.state, 'done');
      assert.equal(provider.instances.size, 0);
    });

    it('works with a pool that explains nothing', async () => {
      const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 });
      Object.assign(pool, { explainWaiting: undefined });
      const [task] = store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      assert.equal((await pass(controller({ pool }))).launches.length, 1);
      assert.equal(store.tasks.get(task!.id)!.reason, 'waits for f.small being launched');
    });

    it('logs each task that starts waiting once, over a queue longer than one write', async () => {
      store.budgets.set({ name: 'ml-zero', scope: { kind: 'team', team: 'ml' }, period: 'hour', capMicros: 1, onCap: 'preempt' }, 'test', clock.now());
      const tasks = store.tasks.insert(Array.from({ length: 1_001 }, () => newTask()), clock.now());
      clock.advance(5_000);
      await pass(controller());
      const logged = logs.lines().filter((l) => l.message === 'task waits').map((l) => String(l.taskId));
      assert.equal(logged.length, 1_001);
      assert.deepEqual(new Set(logged), new Set(tasks.map((t) => t.id)));
    });

    it("drops a provider's offerings it no longer lists, while keeping those of one that failed to list", async () => {
      const a1 = offering({ providerId: 'fake:a', provider: 'fake', instanceType: 'a.small', pricePerHourMicros: 90_000 });
      const bOld = offering({ providerId: 'fake:b', provider: 'fake', instanceType: 'b.old', pricePerHourMicros: 50_000 });
      const bNew = offering({ providerId: 'fake:b', provider: 'fake', instanceType: 'b.new', pricePerHourMicros: 95_000 });
      const a = new FakeProvider({ id: 'fake:a', offerings: [a1], now: () => clock.now() });
      const b = new FakeProvider({ id: 'fake:b', offerings: [bOld], now: () => clock.now() });
      const c = controller({ providers: [a, b], settings: { offeringsEveryPasses: 2 } });
      await c.runPass();
      a.failNext('offerings', new Error('throttled'));
      b.offerings = async () => [bNew];
      store.tasks.insert([newTask()], clock.now() - 5_000);
      const second = await pass(c);
      assert.deepEqual(second.launches.map((l) => l.offering.instanceType), ['a.small']);
    });

    it('doubles the refusal backoff by default (60 s, then 120 s)', async () => {
      const e = new FakeProvider({ id: 'fake:e', offerings: [offering({ providerId: 'fake:e', provider: 'fake', instanceType: 'e.small' })], now: () => clock.now() });
      for (let i = 0; i < 2; i++) e.failNext('launch', new RefusedError('no subnet', { scope: 'provider', code: 'NoSubnet' }));
      const c = controller({ providers: [e] });
      store.tasks.insert([newTask()], clock.now() - 5_000);
      await pass(c);
      assert.equal(c.breakers()[0]!.retryAtMs, clock.now() + 60_000);
      clock.advance(60_000);
      await pass(c);
      assert.equal(e.launchCalls().length, 2);
      assert.equal(c.breakers()[0]!.retryAtMs, clock.now() + 120_000);
    });

    it('logs who closed the breakers it retried', async () => {
      const e = new FakeProvider({ id: 'fake:e', offerings: [offering({ providerId: 'fake:e', provider: 'fake', instanceType: 'e.small' })], now: () => clock.now() });
      e.failNext('launch', new RefusedError('no subnet', { scope: 'provider', code: 'NoSubnet' }));
      const c = controller({ providers: [e] });
      store.tasks.insert([newTask()], clock.now() - 5_000);
      await pass(c);
      c.retryProvider('fake:e', 'ops');
      const closed = logs.lines().find((l) => l.message === 'closed launch breaker');
      assert.equal(closed?.reason, 'retried by ops');
    });

    it('a controller that starts with an agent already idle reads its boot time and releases it at that much idle', async () => {
      const slowBoot = offering({ ...small, bootMs: 90_000 });
      provider = new FakeProvider({ offerings: [slowBoot], now: () => clock.now() });
      const first = controller({ holderId: 'first' });
      const [agent] = await registeredAgents(first, 1);
      for (const t of store.tasks.list({ states: ['pending', 'placed'] })) store.tasks.cancel(t.id, 'test', clock.now());
      await first.stop();
      const idleSince = store.agents.get(agent!.id)!.idleSinceMs!;
      // A new controller (nothing read yet) whose first pass finds the agent idle for 90 s: its relaunch's cost.
      clock.set(idleSince + 90_000);
      const second = controller({ holderId: 'second' });
      await pass(second);
      assert.equal(store.agents.get(agent!.id)!.state, 'terminated');
    });

    it('without an observer, reconciles and releases past foreign instances all the same', async () => {
      provider.listIgnoresCluster = true;
      provider.addStray('theirs', 'another-cluster', clock.now());
      const c = controller();
      await registeredAgents(c, 1);
      provider.addStray('ours-unknown', CLUSTER, clock.now());
      assert.equal(await c.releaseAll('shutting down'), 2, 'the known agent and the unknown instance of the cluster');
      assert.deepEqual([...provider.instances.keys()], ['theirs']);
      const troubles = logs.lines().filter((l) => l.level === 'error' || String(l.message).startsWith('could not'));
      assert.deepEqual(troubles, []);
    });

    it('an open launch does not keep its instances from scale-down: only open terminates do', async () => {
      const [task] = store.tasks.insert([newTask()], clock.now());
      clock.advance(5_000);
      const c = controller();
      await pass(c);
      const [agent] = store.agents.list({ states: ['provisioning'] });
      store.tasks.cancel(task!.id, 'test', clock.now());
      // A launch still open that names the agent's instance (as one reconcile found half launched), held by a pause.
      store.intents.insert({
        id: '0b5c1f4e-0000-4000-8000-0000000000dd',
        kind: 'launch',
        providerId: provider.id,
        offering: small,
        count: 2,
        owners: [],
        reason: 'half launched',
        state: 'pending',
        instanceIds: [agent!.instanceId!],
        createdAtMs: clock.now(),
        updatedAtMs: clock.now(),
        attempts: 1,
        error: '',
      });
      store.policy.set({ ...store.policy.get(), paused: true }, 'test', clock.now());
      // It never registered: past maxProvisionMs (600 s) it goes.
      clock.advance(600_000);
      const report = await pass(c);
      assert.deepEqual(report.terminates.map((t) => t.agentId), [agent!.id]);
      assert.equal(provider.instances.has(agent!.instanceId!), false);
    });
  });
});
