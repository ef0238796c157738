import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { localProviderSchema } from '../../src/config/schema.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { CapacityError } from '../../src/core/errors.ts';
import { DEFAULT_OWNER } from '../../src/core/owner.ts';
import { PRODUCTION_POLICY, type Policy } from '../../src/core/policy.ts';
import { seededRandom } from '../../src/core/random.ts';
import { localOfferings } from '../../src/providers/local/offerings.ts';
import type { LaunchRequest } from '../../src/providers/provider.ts';
import { Simulation, type SimCloud } from '../../src/sim/simulation.ts';
import { SimProvider } from '../../src/sim/sim-provider.ts';
import { job, stream } from './helpers.ts';

const START_MS = Date.UTC(2026, 0, 1);
const CONFIG = localProviderSchema.parse({
  kind: 'local',
  name: 'sim',
  zones: ['z-a'],
  bootDelayMs: 30_000,
  offerings: [
    { instanceType: 'small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.1, spotPricePerHourUsd: 0.03 },
    { instanceType: 'large', cpu: 4, memory: '8Gi', pricePerHourUsd: 0.25 },
  ],
});
const OFFERINGS = localOfferings(CONFIG, 'local:sim');
const POLICY: Policy = { ...PRODUCTION_POLICY, pendingGraceMs: 10_000, idleTtlMs: 60_000 };

function request(intentId: string, lifecycle: 'on-demand' | 'spot', count = 1): LaunchRequest {
  const offering = OFFERINGS.find((o) => o.instanceType === 'small' && o.lifecycle === lifecycle)!;
  return {
    intentId,
    clusterId: 'c1',
    offering,
    count,
    owner: DEFAULT_OWNER,
    bootstrap: { controllerUrl: 'sim://', caBundle: '', credential: 'x' },
  };
}

describe('SimProvider', () => {
  it('launches idempotently by intent id, refuses past its capacity and forgets terminated instances', async () => {
    const clock = new ManualClock(START_MS);
    const provider = new SimProvider({
      id: 'local:sim',
      kind: 'local',
      offerings: OFFERINGS,
      clock,
      random: seededRandom(1),
      capacityPerOffering: 2,
    });
    const first = await provider.launch(request('i-1', 'on-demand', 2));
    assert.deepEqual(
      first.map((i) => i.id),
      ['small-1', 'small-2'],
    );
    assert.equal(first[0]!.launchedAtMs, START_MS);
    assert.deepEqual(
      await provider.launch(request('i-1', 'on-demand', 2)),
      first,
      'a retry returns the same instances',
    );
    await assert.rejects(provider.launch(request('i-2', 'on-demand')), CapacityError);
    assert.deepEqual((await provider.list('other')).length, 0);
    await provider.terminate(['small-1', 'no-such']);
    assert.deepEqual(
      (await provider.list('c1')).map((i) => i.id),
      ['small-2'],
    );
    assert.equal(
      (await provider.launch(request('i-3', 'on-demand')))[0]!.id,
      'small-3',
      'room again after a terminate',
    );
  });

  it('interrupts spot instances only, at seeded times', async () => {
    const times = async (seed: number): Promise<(number | null)[]> => {
      const provider = new SimProvider({
        id: 'local:sim',
        kind: 'local',
        offerings: OFFERINGS,
        clock: new ManualClock(START_MS),
        random: seededRandom(seed),
        spotInterruptionsPerHour: 1,
      });
      const spot = (await provider.launch(request('s', 'spot', 3))) as unknown as { interruptAtMs: number | null }[];
      const onDemand = (await provider.launch(request('o', 'on-demand'))) as unknown as {
        interruptAtMs: number | null;
      }[];
      return [...spot, ...onDemand].map((i) => i.interruptAtMs);
    };
    const a = await times(7);
    assert.deepEqual(a, await times(7), 'the same seed, the same interruptions');
    assert.notDeepEqual(a, await times(8));
    assert.equal(a[3], null, 'on-demand is never interrupted');
    for (const t of a.slice(0, 3)) assert.ok(t !== null && t > START_MS);
  });
});

describe('simulation', function () {
  this.timeout(30_000);

  it('returns interrupted spot work to pending and finishes it elsewhere', async () => {
    const tasks = Array.from({ length: 6 }, (_, i) => job(`r${i}`, i * 60, 2, 4 * 3600, true));
    const sim = new Simulation({
      trace: stream(tasks),
      startMs: START_MS,
      privateMachines: [],
      clouds: [{ providerId: 'local:sim', kind: 'local', offerings: OFFERINGS }],
      policy: POLICY,
      spotInterruptionsPerHour: 0.5,
      seed: 3,
    });
    const run = await sim.run();
    try {
      assert.equal(run.finished, 6);
      assert.ok(run.spotInterruptions > 0, 'some spot instance was interrupted');
      const requeued = run.store.tasks.list().filter((t) => t.attempts > 0);
      assert.ok(requeued.length > 0, 'its tasks went back to pending and ran again');
      assert.ok(requeued.every((t) => t.state === 'succeeded'));
      assert.equal(
        run.store.agents.list({ states: ['provisioning', 'registered', 'draining'] }).length,
        0,
        'the cloud emptied out',
      );
    } finally {
      run.store.close();
    }
  });

  it('fails over to the next cheapest offering when one runs out of capacity', async () => {
    const clouds: SimCloud[] = [
      { providerId: 'local:sim', kind: 'local', offerings: OFFERINGS, capacityPerOffering: 1 },
    ];
    const sim = new Simulation({
      trace: stream([job('a', 0, 2, 600), job('b', 20, 2, 600), job('c', 40, 2, 600)]),
      startMs: START_MS,
      privateMachines: [],
      clouds,
      policy: POLICY,
      decisionLog: true,
    });
    const run = await sim.run();
    try {
      assert.equal(run.finished, 3);
      const launched = run.decisions.flatMap((d) => d.launches.map((l) => l.offering));
      assert.equal(launched[0], 'local:sim/z-a/small/on-demand');
      assert.ok(launched.includes('local:sim/z-a/large/on-demand'), `failed over: ${launched.join(', ')}`);
      const failed = run.store.intents.launches(0).filter((i) => i.state === 'failed');
      assert.ok(failed.length > 0 && failed.every((i) => /no capacity/.test(i.error)));
    } finally {
      run.store.close();
    }
  });

  it('ends a replay whose last work no cloud can ever serve, reporting it never started', async () => {
    // One offering with room for one instance, and a plan that asks for two at once: refused at every retry.
    const small = OFFERINGS.filter((o) => o.instanceType === 'small' && o.lifecycle === 'on-demand');
    const sim = new Simulation({
      trace: stream([job('x', 0, 2, 60), job('y', 0, 2, 60)]),
      startMs: START_MS,
      privateMachines: [],
      clouds: [{ providerId: 'local:sim', kind: 'local', offerings: small, capacityPerOffering: 1 }],
      policy: POLICY,
    });
    const run = await sim.run();
    run.store.close();
    assert.equal(run.neverStarted, 2);
    assert.ok(
      run.endMs - START_MS > 6.9 * 86_400_000,
      `it retried for a week of simulated time, not ${run.endMs - START_MS} ms (${run.passes} passes)`,
    );
  });

  it('runs tasks for their trace run time and waits them as the pool allows', async () => {
    const sim = new Simulation({
      trace: stream([job('a', 0, 2, 100), job('b', 10, 2, 50)]),
      startMs: START_MS,
      privateMachines: [{ name: 'p', capacity: { cpuMillis: 2000, memoryMiB: 4096, gpus: 0, netMbps: 0 }, labels: {} }],
      clouds: [],
      policy: POLICY,
    });
    const run = await sim.run();
    try {
      assert.deepEqual([...run.waitsMs], [0, 90_000], 'b waits for a to end at 100 s');
      assert.equal(run.endMs, START_MS + 150_000);
      const b = run.store.tasks.list().find((t) => t.owner.job === 'b')!;
      assert.equal(b.finishedAtMs! - b.startedAtMs!, 50_000);
    } finally {
      run.store.close();
    }
  });
});

describe('simulation: warm room and idle release', function () {
  this.timeout(30_000);

  const offerings = (largeUsd: number) =>
    localOfferings(
      localProviderSchema.parse({
        kind: 'local',
        name: 'sim',
        zones: ['z-a'],
        bootDelayMs: 30_000,
        offerings: [
          { instanceType: 'small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.36 },
          { instanceType: 'large', cpu: 4, memory: '8Gi', pricePerHourUsd: largeUsd },
        ],
      }),
      'local:sim',
    ).filter((o) => o.lifecycle === 'on-demand');
  const policy: Policy = { ...PRODUCTION_POLICY, pendingGraceMs: 10_000, idleTtlMs: 600_000 };

  async function replay(largeUsd: number, maxInstances = 100) {
    // a (3 CPU) needs a large: launched at 10 s, up at 40 s, busy to 1,040 s. b (1 CPU) comes at 100 s.
    const run = await new Simulation({
      trace: stream([job('a', 0, 3, 1000), job('b', 100, 1, 100)]),
      startMs: START_MS,
      privateMachines: [],
      clouds: [{ providerId: 'local:sim', kind: 'local', offerings: offerings(largeUsd) }],
      policy: { ...policy, limits: { ...policy.limits, maxInstances } },
      decisionLog: true,
    }).run();
    try {
      const lives = run.store.ledger
        .overlapping(START_MS, run.endMs + 1)
        .agents.map((a) => [a.instanceType, (a.startMs - START_MS) / 1000, (a.endMs! - START_MS) / 1000]);
      return {
        launched: run.decisions.flatMap((d) => d.launches.map((l) => l.offering.split('/')[2])),
        waitsS: [...run.waitsMs].map((w) => w / 1000),
        lives,
      };
    } finally {
      run.store.close();
    }
  }

  it("gives a small task its own instance rather than a busy agent's room that costs over twice as much", async () => {
    // Half of $0.90 is over the small's $0.36: b waits its grace, a small is launched at 110 s, up at 140 s, and b
    // ends at 240 s. Each instance goes 60 s after its last task (the 30 s boot is under the 60 s billing minimum),
    // long before idleTtlMs (600 s).
    const r = await replay(0.9);
    assert.deepEqual(r.launched, ['large', 'small']);
    assert.deepEqual(r.waitsS, [40, 40]);
    assert.deepEqual(r.lives, [
      ['large', 10, 1100],
      ['small', 110, 300],
    ]);
  });

  it("puts a small task in a busy agent's room that costs at most twice its own instance", async () => {
    // Half of $0.70 is under $0.36: b starts at once on the large.
    const r = await replay(0.7);
    assert.deepEqual(r.launched, ['large']);
    assert.deepEqual(r.waitsS, [40, 0]);
    assert.deepEqual(r.lives, [['large', 10, 1100]]);
  });

  it("takes a dear agent's room once its own instance is a boot late (the limit refused it)", async () => {
    // At most one instance: b's small is refused at 110 s (its grace); two small boots (60 s) later it takes the
    // large's room, instead of waiting for a to end at 1,040 s.
    const r = await replay(0.9, 1);
    assert.deepEqual(r.launched, ['large']);
    assert.deepEqual(r.waitsS, [40, 70]);
    assert.deepEqual(r.lives, [['large', 10, 1100]]);
  });
});
