import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { plan, type PlanInput } from '../../src/autoscaler/planner.ts';
import { offeringKey } from '../../src/core/offering.ts';
import { cloudAgent, launchIntent, offering, policy, T0, task } from '../fakes/builders.ts';

const small = offering({ instanceType: 'local.small', pricePerHourMicros: 100_000 });
const large = offering({
  instanceType: 'local.large',
  capacity: { cpuMillis: 8000, memoryMiB: 16384 },
  pricePerHourMicros: 300_000,
});
const spot = offering({ instanceType: 'local.small', lifecycle: 'spot', pricePerHourMicros: 30_000 });
const gpu = offering({
  instanceType: 'gpu.a100',
  capacity: { cpuMillis: 8000, memoryMiB: 65536, gpus: 1 },
  gpuModel: 'A100',
  labels: { 'gpu.model': 'A100' },
  pricePerHourMicros: 3_000_000,
});

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    nowMs: T0 + 10_000,
    policy: policy(),
    pending: [],
    agents: [],
    openLaunches: [],
    offerings: [small, large],
    unavailable: new Set(),
    ...overrides,
  };
}

describe('planner', () => {
  it('launches nothing for tasks still inside the grace period', () => {
    const result = plan(input({ nowMs: T0 + 4_999, pending: [task(), task()] }));
    assert.deepEqual(result.launches, []);
  });

  it('packs tasks into the offering with the lowest price per packed task', () => {
    // 8 one-CPU tasks: large packs 8 for 0.30 (0.0375 each); small packs 2 for 0.10 (0.05 each).
    const pending = Array.from({ length: 8 }, () => task());
    const result = plan(input({ pending }));
    assert.equal(result.launches.length, 1);
    assert.equal(result.launches[0]!.offering.instanceType, 'local.large');
    assert.equal(result.launches[0]!.count, 1);
    assert.equal(result.launches[0]!.taskIds.length, 8);
    assert.match(result.launches[0]!.reason, /8 task\(s\) waited/);
  });

  it('prefers the cheaper small instance when few tasks wait', () => {
    const result = plan(input({ pending: [task()] }));
    assert.equal(result.launches[0]!.offering.instanceType, 'local.small');
  });

  it('subtracts what in-flight launches and unregistered instances will bring', () => {
    const pending = [task(), task(), task(), task()];
    const provisioning = cloudAgent({ state: 'provisioning', capacity: { cpuMillis: 2000, memoryMiB: 4096 } });
    const inFlight = launchIntent(small);
    const result = plan(input({ pending, agents: [provisioning], openLaunches: [inFlight] }));
    assert.deepEqual(result.launches, []);
  });

  it("counts the free room of an agent registered after this pass's placement as on its way, and no other's", () => {
    // Four one-CPU tasks; the agent has 4 CPUs, one allocated: its 3 free cover three, and one task is left to launch
    // for, when it registered after placement saw the agents (it could not take them yet). Seen by placement (it had
    // its chance), draining, or with no placement set given, it covers none.
    const pending = [task(), task(), task(), task()];
    const agent = (state: 'registered' | 'draining' = 'registered') =>
      cloudAgent({
        state,
        capacity: { cpuMillis: 4000, memoryMiB: 8192 },
        allocated: { cpuMillis: 1000, memoryMiB: 1024 },
      });
    const seenByPlacement = agent();
    const launchedFor = (agents: ReturnType<typeof agent>[], placementAgentIds?: ReadonlySet<string>) =>
      plan(input({ pending, agents, ...(placementAgentIds ? { placementAgentIds } : {}) })).launches.reduce(
        (n, l) => n + l.taskIds.length,
        0,
      );
    const seen = new Set([seenByPlacement.id]);
    assert.equal(launchedFor([seenByPlacement, agent()], seen), 1);
    assert.equal(launchedFor([seenByPlacement], seen), 4);
    assert.equal(launchedFor([agent('draining')], seen), 4);
    assert.equal(launchedFor([agent()], undefined), 4);
  });

  it('counts an intent once when reconcile already adopted its instance as an agent', () => {
    const intent = launchIntent(small, { count: 1 });
    const adopted = cloudAgent({ state: 'provisioning', intentId: intent.id });
    const pending = [task(), task(), task()];
    const result = plan(input({ pending, agents: [adopted], openLaunches: [intent] }));
    assert.equal(
      result.launches.reduce((n, l) => n + l.count, 0),
      1,
    );
  });

  it('uses spot only for revocable tasks and only where the policy allows it', () => {
    const offerings = [small, spot];
    const revocable = plan(input({ offerings, pending: [task({ revocable: true })] }));
    assert.equal(revocable.launches[0]!.offering.lifecycle, 'spot');
    const steady = plan(input({ offerings, pending: [task()] }));
    assert.equal(steady.launches[0]!.offering.lifecycle, 'on-demand');
    const noSpot = plan(
      input({ offerings, pending: [task({ revocable: true })], policy: policy({ spot: { allowed: false } }) }),
    );
    assert.equal(noSpot.launches[0]!.offering.lifecycle, 'on-demand');
  });

  it('never bursts a private-only task, and says why it waits', () => {
    const t = task({ constraints: { privateOnly: true } });
    const result = plan(input({ pending: [t] }));
    assert.deepEqual(result.launches, []);
    assert.match(result.waiting.find((w) => w.taskId === t.id)!.reason, /private-only/);
  });

  it('launches the GPU model a task asks for', () => {
    const t = task({ resources: { gpus: 1 }, constraints: { gpuModels: ['a100'] } });
    const result = plan(
      input({
        offerings: [small, large, gpu],
        pending: [t],
        policy: policy({ limits: { maxInstances: 8, maxVcpus: 64, maxGpus: 4 } }),
      }),
    );
    assert.equal(result.launches[0]!.offering.instanceType, 'gpu.a100');
  });

  it('skips offerings marked unavailable and fails over to the next cheapest', () => {
    const result = plan(input({ pending: [task()], unavailable: new Set([offeringKey(small)]) }));
    assert.equal(result.launches[0]!.offering.instanceType, 'local.large');
  });

  it('keeps within maxInstances, counting running cloud agents and reporting the limit', () => {
    const running = [cloudAgent(), cloudAgent()];
    const pending = Array.from({ length: 6 }, () => task({ resources: { cpuMillis: 2000 } }));
    const result = plan(
      input({
        offerings: [small],
        pending,
        agents: running,
        policy: policy({ limits: { maxInstances: 3, maxVcpus: 100, maxGpus: 0 } }),
      }),
    );
    assert.equal(
      result.launches.reduce((n, l) => n + l.count, 0),
      1,
    );
    assert.ok(result.waiting.some((w) => /maxInstances=3/.test(w.reason)));
  });

  it('launches nothing while paused', () => {
    const result = plan(input({ pending: [task()], policy: policy({ paused: true }) }));
    assert.deepEqual(result.launches, []);
    assert.match(result.waiting[0]!.reason, /paused/);
  });

  it('honours allowed providers, regions and instance families', () => {
    const other = offering({
      providerId: 'aws-ec2:us-east-1',
      provider: 'aws-ec2',
      region: 'us-east-1',
      instanceType: 'm7i.large',
      pricePerHourMicros: 50_000,
    });
    const pending = [task()];
    assert.equal(plan(input({ offerings: [small, other], pending })).launches[0]!.offering.instanceType, 'm7i.large');
    assert.equal(
      plan(input({ offerings: [small, other], pending, policy: policy({ providers: ['local'] }) })).launches[0]!
        .offering.instanceType,
      'local.small',
    );
    assert.equal(
      plan(input({ offerings: [small, other], pending, policy: policy({ regions: ['local'] }) })).launches[0]!.offering
        .instanceType,
      'local.small',
    );
    assert.equal(
      plan(input({ offerings: [small, other], pending, policy: policy({ instanceFamilies: ['local.'] }) })).launches[0]!
        .offering.instanceType,
      'local.small',
    );
  });

  it('splits owner shares by the capacity their tasks take', () => {
    const a = task({ owner: { team: 'a', project: 'p', job: 'j' }, resources: { cpuMillis: 1500 } });
    const b = task({ owner: { team: 'b', project: 'p', job: 'j' }, resources: { cpuMillis: 500 } });
    const [launch] = plan(input({ offerings: [small], pending: [a, b] })).launches;
    assert.deepEqual(
      launch!.owners.map((o) => [o.owner.team, o.share]),
      [
        ['a', 0.75],
        ['b', 0.25],
      ],
    );
  });

  it('gives the same plan for the same input', () => {
    const pending = Array.from({ length: 30 }, (_, i) =>
      task({ resources: { cpuMillis: 250 * (1 + (i % 5)), memoryMiB: 512 * (1 + (i % 3)) } }),
    );
    const a = plan(input({ pending }));
    const b = plan(input({ pending }));
    assert.deepEqual(a, b);
  });

  it('reports a task no allowed offering fits', () => {
    const huge = task({ resources: { cpuMillis: 64_000 } });
    const result = plan(input({ pending: [huge] }));
    assert.deepEqual(result.launches, []);
    assert.match(result.waiting[0]!.reason, /no allowed offering fits/);
  });

  it('puts the tasks left over in the cheapest instance that holds them, not another large one', () => {
    // 9 one-CPU tasks: one large holds 8; the ninth fits a small, which costs less than a second large.
    const pending = Array.from({ length: 9 }, () => task());
    const launches = plan(input({ pending })).launches;
    assert.deepEqual(launches.map((l) => [l.offering.instanceType, l.count, l.taskIds.length]).sort(), [
      ['local.large', 1, 8],
      ['local.small', 1, 1],
    ]);
  });

  it('packs tasks that need different resources into one instance when that costs least', () => {
    const balanced = offering({
      instanceType: 'balanced',
      capacity: { cpuMillis: 4000, memoryMiB: 4096 },
      pricePerHourMicros: 100_000,
    });
    const cpuHeavy = offering({
      instanceType: 'cpu',
      capacity: { cpuMillis: 4000, memoryMiB: 1024 },
      pricePerHourMicros: 80_000,
    });
    const memHeavy = offering({
      instanceType: 'mem',
      capacity: { cpuMillis: 1000, memoryMiB: 4096 },
      pricePerHourMicros: 80_000,
    });
    const pending = [
      task({ resources: { cpuMillis: 3000, memoryMiB: 512 } }),
      task({ resources: { cpuMillis: 500, memoryMiB: 3000 } }),
    ];
    const launches = plan(input({ offerings: [balanced, cpuHeavy, memHeavy], pending })).launches;
    assert.deepEqual(
      launches.map((l) => [l.offering.instanceType, l.count]),
      [['balanced', 1]],
    );
  });

  it('values tasks by the capacity they take, not by their number', () => {
    // One big task and many tiny ones: a per-task price would favour stuffing the tiny ones in with the big one.
    const big = offering({
      instanceType: 'big',
      capacity: { cpuMillis: 16_000, memoryMiB: 32_768 },
      pricePerHourMicros: 800_000,
    });
    const tiny = offering({
      instanceType: 'tiny',
      capacity: { cpuMillis: 1000, memoryMiB: 2048 },
      pricePerHourMicros: 40_000,
    });
    const pending = [
      task({ resources: { cpuMillis: 9000, memoryMiB: 8192 } }),
      ...Array.from({ length: 10 }, () => task({ resources: { cpuMillis: 1000, memoryMiB: 1024 } })),
    ];
    const result = plan(
      input({
        offerings: [big, tiny],
        pending,
        policy: policy({ limits: { maxInstances: 50, maxVcpus: 500, maxGpus: 0 } }),
      }),
    );
    const cost = result.launches.reduce((c, l) => c + l.count * l.offering.pricePerHourMicros, 0);
    // The big task needs a big instance; seven tiny tasks fill the rest of it, three go to tiny instances.
    assert.equal(cost, 800_000 + 3 * 40_000);
  });

  it('plans 20,000 tasks of 200 shapes over 400 offerings within seconds', function () {
    this.timeout(20_000);
    const shapes = Array.from({ length: 200 }, (_, i) => ({
      cpuMillis: 250 * (1 + (i % 16)),
      memoryMiB: 512 * (1 + ((i * 7) % 24)),
    }));
    const pending = Array.from({ length: 20_000 }, (_, i) =>
      task({ resources: shapes[i % shapes.length]!, revocable: i % 3 === 0 }),
    );
    const offerings = Array.from({ length: 400 }, (_, i) =>
      offering({
        instanceType: `t${i}`,
        lifecycle: i % 2 ? 'spot' : 'on-demand',
        capacity: { cpuMillis: 2000 * (1 + (i % 24)), memoryMiB: 4096 * (1 + ((i * 5) % 32)) },
        pricePerHourMicros: 40_000 * (1 + (i % 24)) + 5_000 * (1 + ((i * 5) % 32)) - (i % 2) * 20_000 * (1 + (i % 24)),
      }),
    );
    const started = performance.now();
    const result = plan(
      input({
        offerings,
        pending,
        policy: policy({ limits: { maxInstances: 100_000, maxVcpus: 10_000_000, maxGpus: 0 } }),
      }),
    );
    const elapsedMs = performance.now() - started;
    assert.equal(
      result.launches.reduce((n, l) => n + l.taskIds.length, 0),
      20_000,
    );
    assert.ok(elapsedMs < 5_000, `${elapsedMs} ms`);
  });

  it('calls admitLaunch for each planned instance and, when it refuses a mix of owners, tries each owner alone', () => {
    const capped = task({ owner: { team: 'ml', project: 'p', job: 'j' } });
    const other = task({ owner: { team: 'web', project: 'p', job: 'j' } });
    const calls: string[][] = [];
    const admitLaunch = (_o: unknown, tasks: readonly { owner: { team: string } }[]): string | undefined => {
      calls.push(tasks.map((t) => t.owner.team));
      return tasks.some((t) => t.owner.team === 'ml') ? 'budget ml-hourly is at its cap' : undefined;
    };
    const result = plan(input({ offerings: [small], pending: [capped, other], admitLaunch }));
    assert.deepEqual(calls[0], ['ml', 'web'], 'first the packed instance, both tasks together');
    assert.deepEqual(
      result.launches.flatMap((l) => l.taskIds),
      [other.id],
    );
    assert.equal(result.waiting.find((w) => w.taskId === capped.id)?.reason, 'budget ml-hourly is at its cap');
  });
});
