import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { Controller, type ControllerSettings, type PassReport } from '../../src/autoscaler/controller.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { CapacityError } from '../../src/core/errors.ts';
import { resources } from '../../src/core/resources.ts';
import { privateAgent } from '../store/helpers.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewTask, Store } from '../../src/store/store.ts';
import { offering, policy } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { waitFor } from '../helpers/wait.ts';
import { asyncOf } from '../helpers/async-store.ts';

const CLUSTER = 'test-cluster';
const INTERVAL_MS = 10_000;
const GRACE_MS = 5_000;
const COALESCE_MS = 20;
const small = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.small',
  pricePerHourMicros: 100_000,
});

function newTask(): NewTask {
  return {
    owner: { team: 'ml', project: 'p', job: 'j' },
    resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
    priority: 0,
    revocable: false,
    constraints: {},
    command: ['true'],
  };
}

/**
 * The control loop's wake-ups, on the injected clock: the loop runs (start()), the test steps time only to moments
 * the loop sleeps until (ManualClock.nextWakeAt), and reads what passes did from the store and the fake provider.
 */
describe('controller loop wake-ups', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  let provider: FakeProvider;
  let controller: Controller;
  let passes: { atMs: number; report: PassReport }[];
  let inFlight: number;
  let maxInFlight: number;

  function start(settings: Partial<ControllerSettings> = {}): void {
    controller = new Controller({
      store: asyncOf(store),
      pool: new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 }),
      providers: [provider],
      clock,
      logger: silentLogger(),
      settings: {
        passIntervalMs: INTERVAL_MS,
        reconcileEveryPasses: 1_000,
        leaseTtlMs: 60_000,
        unavailableForMs: 60_000,
        wakeCoalesceMs: COALESCE_MS,
        ...settings,
      },
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
    const runPass = controller.runPass.bind(controller);
    controller.runPass = async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const report = await runPass();
        passes.push({ atMs: clock.now(), report });
        return report;
      } finally {
        inFlight--;
      }
    };
    controller.start();
  }

  /** Waits until the loop, after `count` passes in all, sleeps; returns the time it sleeps until. */
  async function sleepingAfter(count: number): Promise<number> {
    return waitFor(`the loop asleep after pass ${count}`, () => passes.length === count && clock.nextWakeAt(), {
      intervalMs: 2,
    });
  }

  function addPrivateAgent(): void {
    store.agents.insert(
      privateAgent({
        name: 'p0',
        location: { kind: 'private', site: 'lab' },
        capacity: resources({ cpuMillis: 2000, memoryMiB: 4096 }),
        labels: {},
      }),
      clock.now(),
    );
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-wake-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    store.meta.bindClusterId(CLUSTER);
    clock = new ManualClock();
    store.policy.seed(policy({ pendingGraceMs: GRACE_MS }), clock.now());
    provider = new FakeProvider({ offerings: [small], now: () => clock.now() });
    passes = [];
    inFlight = 0;
    maxInFlight = 0;
  });

  afterEach(async () => {
    await controller.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('places a task submitted 1 ms after a pass without waiting for the interval', async () => {
    addPrivateAgent();
    start();
    const firstEnd = clock.now();
    assert.equal(await sleepingAfter(1), firstEnd + INTERVAL_MS);
    clock.advance(1);
    const [task] = store.tasks.insert([newTask()], clock.now());
    controller.wake();
    // The interval's sleep is cut short: the loop now waits only the coalescing window.
    assert.equal(await sleepingAfter(1), firstEnd + 1 + COALESCE_MS);
    clock.advance(COALESCE_MS);
    await sleepingAfter(2);
    assert.equal(passes[1]!.atMs, firstEnd + 1 + COALESCE_MS);
    assert.equal(passes[1]!.report.placed, 1);
    assert.equal(store.tasks.get(task!.id)?.state, 'placed');
  });

  it('without a wake-up, the same task waits for the interval', async () => {
    addPrivateAgent();
    start();
    const firstEnd = clock.now();
    await sleepingAfter(1);
    clock.advance(1);
    const [task] = store.tasks.insert([newTask()], clock.now());
    clock.advance(COALESCE_MS);
    assert.equal(await sleepingAfter(1), firstEnd + INTERVAL_MS);
    assert.equal(store.tasks.get(task!.id)?.state, 'pending');
    clock.set(firstEnd + INTERVAL_MS);
    await sleepingAfter(2);
    assert.equal(store.tasks.get(task!.id)?.state, 'placed');
  });

  it("wakes when a pending task's grace period ends, and launches for it then", async () => {
    const t0 = clock.now();
    store.tasks.insert([newTask()], t0);
    clock.advance(1_000);
    start();
    // No room anywhere: the task waits for its grace, which ends at t0 + 5 s, before the 10 s interval.
    assert.equal(await sleepingAfter(1), t0 + GRACE_MS);
    assert.equal(passes[0]!.report.launches.length, 0);
    clock.set(t0 + GRACE_MS);
    await sleepingAfter(2);
    assert.equal(passes[1]!.atMs, t0 + GRACE_MS);
    assert.equal(passes[1]!.report.launches.length, 1);
    await controller.settle();
    assert.equal(provider.launchCalls().length, 1);
  });

  it('wakes when an offering marked unavailable after a capacity error comes back, and launches there again', async () => {
    store.tasks.insert([newTask()], clock.now() - GRACE_MS);
    provider.failNext('launch', new CapacityError('launching f.small: no capacity', 'x'));
    start({ unavailableForMs: 3_000 });
    await waitFor('the failed launch', () => passes.length === 1 && provider.launchCalls().length === 1, {
      intervalMs: 2,
    });
    assert.equal(passes[0]!.report.launches.length, 1);
    await controller.settle();
    // The capacity error marked the offering unavailable until now + 3 s and woke the loop.
    const markedAt = clock.now();
    clock.set(await sleepingAfter(1));
    assert.equal(await sleepingAfter(2), markedAt + 3_000, 'the next pass is due when the offering comes back');
    assert.equal(passes[1]!.report.launches.length, 0);
    clock.set(markedAt + 3_000);
    await sleepingAfter(3);
    assert.equal(passes[2]!.report.launches.length, 1);
    await controller.settle();
    assert.equal(provider.launchCalls().length, 2);
  });

  it('coalesces a burst of wake-ups into one pass, and a wake-up during a pass into one more, never two at once', async () => {
    addPrivateAgent();
    start();
    await sleepingAfter(1);
    // Two tasks that fit the agent, then a burst of wake-ups (as a burst of requests makes).
    store.tasks.insert([newTask(), newTask()], clock.now());
    for (let i = 0; i < 100; i++) controller.wake();
    const coalesceEnd = await sleepingAfter(1);
    assert.equal(coalesceEnd, clock.now() + COALESCE_MS);
    clock.set(coalesceEnd);
    const afterBurst = await sleepingAfter(2);
    assert.equal(passes.length, 2, 'one pass for the burst');
    assert.equal(passes[1]!.report.placed, 2);
    assert.equal(afterBurst, passes[1]!.atMs + INTERVAL_MS);
    // Wake-ups while a pass runs: the pass in flight is not joined by another; exactly one follows it.
    const runPass = controller.runPass;
    let woke = false;
    controller.runPass = async () => {
      if (!woke) {
        woke = true;
        for (let i = 0; i < 10; i++) controller.wake();
      }
      return runPass();
    };
    controller.wake();
    clock.set(await sleepingAfter(2));
    const following = await sleepingAfter(3);
    assert.equal(following, clock.now() + COALESCE_MS, 'the wake-ups during pass 3 ask for one more pass');
    clock.set(following);
    const settled = await sleepingAfter(4);
    assert.equal(settled, passes[3]!.atMs + INTERVAL_MS, 'then the loop sleeps its interval');
    assert.equal(maxInFlight, 1);
  });
});
