import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import { Controller, type PassReport } from '../../src/autoscaler/controller.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { offeringKey, type Offering } from '../../src/core/offering.ts';
import { PRODUCTION_POLICY } from '../../src/core/policy.ts';
import { resources } from '../../src/core/resources.ts';
import { loadCatalog } from '../../src/cost-model/catalog.ts';
import { PriceBook } from '../../src/cost-model/price-book.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewTask, Store } from '../../src/store/store.ts';
import { LABEL_ZONE } from '../../src/providers/local/offerings.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { asyncOf } from '../helpers/async-store.ts';

/**
 * A controller pass plans in slices (issue 15 item 2): with 1,000 pending tasks over the catalog's offerings, other
 * callbacks run on the event loop while the pass plans, and the pass launches what it launches planning at once.
 */

const CLUSTER = 'test-cluster';
/** The catalog's AWS us-east-1 offerings in three zones, as one fake provider's. */
const OFFERINGS: Offering[] = new PriceBook(loadCatalog())
  .offerings({
    providerId: 'aws-ec2:us-east-1',
    provider: 'aws-ec2',
    region: 'us-east-1',
    zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
  })
  .map((o) => ({ ...o, providerId: 'fake:test', provider: 'fake' }));

/** The i-th task of a burst; with `zones`, it asks for the i-th zone of them in turn (one launch each at least). */
function burstTask(i: number, zones: readonly string[] = []): NewTask {
  return {
    owner: { team: 'burst', project: `p${i % 5}`, job: 'j' },
    resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
    priority: 0,
    revocable: false,
    constraints: zones.length === 0 ? {} : { labels: { [LABEL_ZONE]: zones[i % zones.length]! } },
    command: ['true'],
  };
}

describe('controller: a pass plans in slices', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];

  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** One pass over a fresh store with `count` due tasks (1,000); counts the event loop's turns during it. */
  async function onePass(
    planSliceMs: number | undefined,
    {
      count = 1_000,
      maxInstances = 2_000,
      zones = [] as readonly string[],
      pause = undefined as (() => Promise<void>) | undefined,
      task = burstTask,
    } = {},
  ): Promise<{ report: PassReport; turns: number; store: Store; noteTurns: number[]; launchTurns: number[]; completeTurns: number[]; releaseTurns: number[]; feedTurns: number[]; expireTurns: number[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'spillway-sliced-'));
    dirs.push(dir);
    const store = openSqliteStore(join(dir, 'spillway.db'));
    stores.push(store);
    store.meta.bindClusterId(CLUSTER);
    const clock = new ManualClock();
    store.policy.seed(
      { ...PRODUCTION_POLICY, pendingGraceMs: 0, limits: { maxInstances, maxVcpus: 100_000, maxGpus: 64 } },
      clock.now(),
    );
    store.tasks.insert(
      Array.from({ length: count }, (_, i) => task(i, zones)),
      clock.now(),
    );
    clock.advance(1_000);
    const pool = new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 });
    // The turn count when scale-down's choice reaches the pool (it releases what it is given, as without the hook).
    const releaseTurns: number[] = [];
    // The turn count at each read of the model's change feed before the pool first looks for silent agents, and then.
    const feedTurns: number[] = [];
    const expireTurns: number[] = [];
    const { currentSlice, since } = store.changes;
    Object.assign(store.changes, {
      currentSlice: (...args: Parameters<typeof currentSlice>) => {
        if (expireTurns.length === 0) feedTurns.push(turns);
        return currentSlice.apply(store.changes, args);
      },
      since: (...args: Parameters<typeof since>) => {
        if (expireTurns.length === 0) feedTurns.push(turns);
        return since.apply(store.changes, args);
      },
    });
    const expireAgents = pool.expireAgents.bind(pool);
    Object.assign(pool, {
      release: <T,>(chosen: readonly T[]): Promise<T[]> => {
        releaseTurns.push(turns);
        return Promise.resolve([...chosen]);
      },
      expireAgents: (...args: Parameters<typeof expireAgents>) => {
        expireTurns.push(turns);
        return expireAgents(...args);
      },
    });
    const controller = new Controller({
      store: asyncOf(store),
      pool,
      providers: [new FakeProvider({ id: 'fake:test', offerings: OFFERINGS, now: () => clock.now() })],
      clock,
      logger: silentLogger(),
      settings: {
        passIntervalMs: 10_000,
        reconcileEveryPasses: 1_000,
        leaseTtlMs: 60_000,
        unavailableForMs: 60_000,
        planSliceMs,
      },
      ...(pause === undefined ? {} : { pause }),
      identity: {
        holderId: 'c1',
        launch: {
          clusterId: CLUSTER,
          controllerUrl: 'http://127.0.0.1:1',
          caBundle: '',
          serverSecret: store.meta.serverSecret(),
        },
      },
    });
    let turns = 0;
    let running = true;
    // The event loop's turn count at each write of waiting reasons (the real store's method, watched).
    const noteTurns: number[] = [];
    const noteWaiting = store.tasks.noteWaiting.bind(store.tasks);
    Object.assign(store.tasks, {
      noteWaiting: (reasons: Parameters<typeof noteWaiting>[0]) => {
        noteTurns.push(turns);
        return noteWaiting(reasons);
      },
    });
    // The turn count at each launch intent's write and at each launch's completion (instances recorded).
    const launchTurns: number[] = [];
    const completeTurns: number[] = [];
    const insert = store.intents.insert.bind(store.intents);
    const completeLaunch = store.intents.completeLaunch.bind(store.intents);
    Object.assign(store.intents, {
      insert: (intent: Parameters<typeof insert>[0]) => {
        if (intent.kind === 'launch') launchTurns.push(turns);
        return insert(intent);
      },
      completeLaunch: (...args: Parameters<typeof completeLaunch>) => {
        completeTurns.push(turns);
        return completeLaunch(...args);
      },
    });
    const tick = (): void => {
      if (!running) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    try {
      const report = await controller.runPass();
      await controller.settle();
      return { report, turns, store, noteTurns, launchTurns, completeTurns, releaseTurns, feedTurns, expireTurns };
    } finally {
      running = false;
      await controller.stop({ abortCalls: true });
    }
  }

  /** What a launch command decides, without the task ids (each store names its tasks anew). */
  function decided(report: PassReport): { offering: string; count: number; tasks: number }[] {
    return report.launches.map((l) => ({ offering: offeringKey(l.offering), count: l.count, tasks: l.taskIds.length }));
  }

  it('lets other callbacks run while it plans 1,000 tasks over hundreds of offerings, and launches the same', async () => {
    assert.ok(OFFERINGS.length > 300, `${OFFERINGS.length} offerings`);
    const atOnce = await onePass(Infinity);
    const sliced = await onePass(0);
    const launched = decided(atOnce.report);
    assert.equal(
      launched.reduce((n, l) => n + l.tasks, 0),
      1_000,
    );
    assert.deepEqual(decided(sliced.report), launched);
    assert.equal(sliced.report.waiting.length, 0);
    // The pass's own turns (between its steps) are the same in both; slicing the plan adds one per slice end, and the
    // one-type check alone ends a slice every 32 offerings.
    assert.ok(
      sliced.turns - atOnce.turns >= OFFERINGS.length / 32,
      `${sliced.turns} turns sliced, ${atOnce.turns} planning at once`,
    );
  });

  it('plans in slices of 10 ms by default: a plan of 3,000 tasks over hundreds of offerings pauses on its way', async () => {
    // Planning this much takes about 100 ms on a 2-core VM, ten slices of 10 ms; the
    // pass's own steps pause as often either way, so the plan's slices are the difference.
    const pausesOf = async (planSliceMs: number | undefined): Promise<{ pauses: number; report: PassReport }> => {
      let pauses = 0;
      const pause = (): Promise<void> => {
        pauses++;
        return new Promise((resolve) => setImmediate(resolve));
      };
      // Shapes of every size: hundreds of classes to pack, not a few.
      const varied = (i: number): NewTask => ({
        ...burstTask(i),
        resources: resources({ cpuMillis: 250 * (1 + (i % 16)), memoryMiB: 256 * (1 + (i % 23)) }),
      });
      const { report } = await onePass(planSliceMs, { count: 3_000, maxInstances: 5_000, pause, task: varied });
      return { pauses, report };
    };
    const atOnce = await pausesOf(Infinity);
    const byDefault = await pausesOf(undefined);
    assert.deepEqual(decided(byDefault.report), decided(atOnce.report));
    assert.ok(byDefault.pauses > atOnce.pauses, `${byDefault.pauses} pauses by default, ${atOnce.pauses} planning at once`);
  });

  it('takes the pause it is given between its stretches and the plan\'s slices, and decides the same', async () => {
    const taken = await onePass(0);
    let pauses = 0;
    const given = await onePass(0, {
      pause: () => {
        pauses++;
        return Promise.resolve();
      },
    });
    assert.deepEqual(decided(given.report), decided(taken.report));
    // The plan alone ends a slice every 32 offerings; the pass's steps add their own.
    assert.ok(pauses >= OFFERINGS.length / 32 + 5, `${pauses} pauses`);
    // None of them a turn of the event loop: the turns the pass took are its cloud calls', far fewer.
    assert.ok(given.turns < taken.turns - OFFERINGS.length / 32, `${given.turns} turns given, ${taken.turns} taken`);
  });

  it("writes a long queue's waiting reasons a slice at a time, every one of them, with turns of the loop between", async () => {
    // No instance may be launched: every task waits, and the first pass writes every reason.
    const few = await onePass(Infinity, { count: 500, maxInstances: 0 });
    const many = await onePass(Infinity, { count: 2_500, maxInstances: 0 });
    for (const { report, store, count } of [
      { ...few, count: 500 },
      { ...many, count: 2_500 },
    ]) {
      assert.equal(report.waiting.length, count);
      const pending = store.tasks.listHeaders({ states: ['pending'] });
      assert.equal(pending.length, count);
      assert.equal(pending.filter((t) => t.reason === '').length, 0, 'every pending task has its reason stored');
    }
    // 500 reasons are one write; 2,500 are three, with at least one turn of the event loop between each two.
    assert.equal(few.noteTurns.length, 1);
    assert.equal(many.noteTurns.length, 3);
    for (let i = 1; i < many.noteTurns.length; i++) {
      assert.ok(many.noteTurns[i]! > many.noteTurns[i - 1]!, `turns at each write: ${many.noteTurns.join(', ')}`);
    }
  });

  it('acts in a turn after scale-down, and records each launch in a turn of its own, its instances before the next', async () => {
    const zones = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
    const { report, launchTurns, completeTurns, releaseTurns } = await onePass(Infinity, { zones });
    // Acting begins in a turn after scale-down's.
    assert.equal(releaseTurns.length, 1);
    assert.ok(launchTurns[0]! > releaseTurns[0]!, `scale-down at turn ${releaseTurns[0]}, the first launch at ${launchTurns[0]}`);
    assert.deepEqual(new Set(report.launches.map((l) => l.offering.zone)), new Set(zones));
    // Several launches, each written once, and each (the fake cloud answers at once) completed before the next one.
    assert.ok(report.launches.length >= 2, `${report.launches.length} launches`);
    assert.equal(launchTurns.length, report.launches.length);
    assert.equal(completeTurns.length, report.launches.length);
    for (let i = 1; i < launchTurns.length; i++) {
      assert.ok(
        launchTurns[i]! > completeTurns[i - 1]! && completeTurns[i - 1]! >= launchTurns[i - 1]!,
        `turns at each launch: ${launchTurns.join(', ')}; at each completion: ${completeTurns.join(', ')}`,
      );
    }
  });

  it('looks for silent agents in a turn after the one that read the last of the model', async () => {
    const { feedTurns, expireTurns } = await onePass(Infinity, { count: 10 });
    assert.equal(expireTurns.length, 1);
    // The first pass's load: a slice, then the catch-up with what changed meanwhile; the scan comes in a later turn.
    assert.ok(feedTurns.length >= 2, `feed read at turns ${feedTurns.join(', ')}`);
    assert.ok(expireTurns[0]! > feedTurns.at(-1)!, `feed read at turns ${feedTurns.join(', ')}, scan at ${expireTurns[0]}`);
  });
});
