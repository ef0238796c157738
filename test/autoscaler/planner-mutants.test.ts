import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { plan, planClasses, planInstances, planSliced, type PlanInput } from '../../src/autoscaler/planner.ts';
import { offeringKey, type Offering } from '../../src/core/offering.ts';
import type { Resources } from '../../src/core/resources.ts';
import type { TaskHeader as Task } from '../../src/core/task.ts';
import { cloudAgent, launchIntent, offering, policy, T0, task } from '../fakes/builders.ts';

/**
 * The planner's rules one at a time, each in a scenario small enough to work out by hand (issue 14, mutation testing
 * of src/autoscaler/planner.ts): the grace boundary, capacity on its way, the rounds that follow a refusal, the
 * alternatives tried for a refused instance, and the launch command's text.
 */

/** 2 CPUs, 4 GiB, 1 Gbit/s at $0.10/h (the builders' default offering). */
const small = offering({ instanceType: 'local.small', pricePerHourMicros: 100_000 });
/** 8 CPUs, 16 GiB at $0.30/h. */
const large = offering({
  instanceType: 'local.large',
  capacity: { cpuMillis: 8000, memoryMiB: 16384 },
  pricePerHourMicros: 300_000,
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

/** Each instance as `instanceType: task ids`, in planning order. */
function instancesOf(i: PlanInput): string[] {
  return planInstances(i).instances.map((b) => `${b.offering.instanceType}: ${b.tasks.map((t) => t.id).join(',')}`);
}

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('planner rules, one at a time', () => {
  describe('the grace period', () => {
    it('plans a task that has waited exactly the grace period, not one a millisecond younger', () => {
      const due = task({ id: 'due', pendingSinceMs: T0 });
      const young = task({ id: 'young', pendingSinceMs: T0 + 1 });
      // policy(): pendingGraceMs 5,000.
      const result = plan(input({ nowMs: T0 + 5_000, pending: [due, young] }));
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.count, l.taskIds]),
        [['local.small', 1, ['due']]],
      );
      assert.deepEqual(result.waiting, [], 'a task inside its grace period neither launches nor waits with a reason');
    });

    it('plans the same for tasks in classes: of one class, only the due tasks', () => {
      const due = task({ id: 'due', pendingSinceMs: T0 });
      const young = task({ id: 'young', pendingSinceMs: T0 + 1 });
      const result = planClasses({ ...input({ nowMs: T0 + 5_000 }), pending: [{ tasks: [due, young], ranks: [0, 1] }] });
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.count, l.taskIds]),
        [['local.small', 1, ['due']]],
      );
      assert.deepEqual(result.waiting, []);
    });

    it('passes over a class with no tasks', () => {
      const a = task({ id: 'a' });
      const result = planClasses({
        ...input({}),
        pending: [
          { tasks: [], ranks: [] },
          { tasks: [a], ranks: [0] },
        ],
      });
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.count, l.taskIds]),
        [['local.small', 1, ['a']]],
      );
      assert.deepEqual(result.waiting, []);
    });

    it('keeps a young task of a class out of the plan when its class-mates are due', () => {
      // The young task comes first in its class: the class is filtered, not cut at its first young task.
      const young = task({ id: 'young', pendingSinceMs: T0 + 9_000 });
      const a = task({ id: 'a', pendingSinceMs: T0 });
      const b = task({ id: 'b', pendingSinceMs: T0 });
      const result = planClasses({ ...input({}), pending: [{ tasks: [young, a, b], ranks: [0, 1, 2] }] });
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.count, l.taskIds]),
        [['local.small', 1, ['a', 'b']]],
      );
      assert.deepEqual(result.waiting, []);
    });
  });

  describe('paused', () => {
    it('lists tasks in classes as waiting by rank while paused, private-only ones first', () => {
      const mine = { team: 'red', project: 'p', job: 'j' };
      const theirs = { team: 'blue', project: 'p', job: 'j' };
      const red = [0, 2].map((r) => task({ id: `r${r}`, owner: mine }));
      const blue = [1, 3].map((r) => task({ id: `b${r}`, owner: theirs }));
      const priv = task({ id: 'p4', owner: mine, constraints: { privateOnly: true } });
      const result = planClasses({
        ...input({ policy: policy({ paused: true }) }),
        pending: [
          { tasks: blue, ranks: [1, 3] },
          { tasks: [priv], ranks: [4] },
          { tasks: red, ranks: [0, 2] },
        ],
      });
      assert.deepEqual(result.launches, []);
      assert.deepEqual(result.waiting, [
        { taskId: 'p4', reason: 'waits for private room (private-only task)' },
        { taskId: 'r0', reason: 'bursting is paused' },
        { taskId: 'b1', reason: 'bursting is paused' },
        { taskId: 'r2', reason: 'bursting is paused' },
        { taskId: 'b3', reason: 'bursting is paused' },
      ]);
    });

    it('lists every due task as waiting while paused, with the reason', () => {
      const a = task({ id: 'a' });
      const b = task({ id: 'b', resources: { cpuMillis: 4000 } });
      const result = plan(input({ pending: [a, b], policy: policy({ paused: true }) }));
      assert.deepEqual(result.launches, []);
      assert.deepEqual(result.waiting, [
        { taskId: 'a', reason: 'bursting is paused' },
        { taskId: 'b', reason: 'bursting is paused' },
      ]);
    });
  });

  describe('capacity on its way', () => {
    it('does not count a registered agent as capacity on its way: its room was offered to placement already', () => {
      const registered = cloudAgent({ state: 'registered', capacity: { cpuMillis: 8000, memoryMiB: 16384 } });
      const result = plan(input({ pending: [task({ id: 'x' })], agents: [registered] }));
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.taskIds]),
        [['local.small', ['x']]],
      );
    });

    it('covers a revocable task with a spot launch in flight, but never a task that may not run on spot', () => {
      const spot = offering({ instanceType: 'local.spot', lifecycle: 'spot', pricePerHourMicros: 30_000 });
      const inFlight = launchIntent(spot);
      const steady = task({ id: 'steady' });
      const revocable = task({ id: 'revocable', revocable: true });
      const result = plan(
        input({ offerings: [small, large, spot], pending: [steady, revocable], openLaunches: [inFlight] }),
      );
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.taskIds]),
        [['local.small', ['steady']]],
      );
      assert.deepEqual(result.waiting, []);
    });

    it('fills one booting instance with tasks of two shapes while they fit, and no further', () => {
      // 2 CPUs and 4 GiB booting: one task of 1 CPU and 2 GiB and one of 1 CPU and 1 GiB fit together.
      const booting = cloudAgent({ state: 'provisioning', capacity: { cpuMillis: 2000, memoryMiB: 4096 } });
      const bigger = task({ id: 'bigger', resources: { cpuMillis: 1000, memoryMiB: 2048 } });
      const smaller = task({ id: 'smaller', resources: { cpuMillis: 1000, memoryMiB: 1024 } });
      assert.deepEqual(plan(input({ pending: [bigger, smaller], agents: [booting] })), { launches: [], waiting: [] });
      // A third task no longer fits what is left (0 CPUs): it alone gets an instance.
      const third = task({ id: 'third', resources: { cpuMillis: 1000, memoryMiB: 1024 } });
      const more = plan(input({ pending: [bigger, smaller, third], agents: [booting] }));
      assert.deepEqual(
        more.launches.map((l) => [l.offering.instanceType, l.taskIds]),
        [['local.small', ['third']]],
      );
    });

    it('counts the instances of a launch in flight that reconcile has not adopted yet', () => {
      // Two smalls launched, one already adopted as a booting agent: 2 + 2 CPUs on their way cover four tasks.
      const intent = launchIntent(small, { count: 2 });
      const adopted = cloudAgent({ state: 'provisioning', intentId: intent.id });
      const pending = ids('t', 4).map((id) => task({ id }));
      assert.deepEqual(plan(input({ pending, agents: [adopted], openLaunches: [intent] })), { launches: [], waiting: [] });
      // A fifth task is not covered.
      const fifth = task({ id: 'fifth' });
      assert.deepEqual(
        plan(input({ pending: [...pending, fifth], agents: [adopted], openLaunches: [intent] })).launches.map((l) => l.taskIds),
        [['fifth']],
      );
    });

    it('launches for a group the capacity on its way does not cover though it covers another group', () => {
      const booting = cloudAgent({ state: 'provisioning', capacity: { cpuMillis: 2000, memoryMiB: 4096 } });
      const covered = [task({ id: 'c0' }), task({ id: 'c1' })];
      const big = task({ id: 'big', resources: { cpuMillis: 6000, memoryMiB: 8192 } });
      const result = plan(input({ pending: [...covered, big], agents: [booting] }));
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.taskIds]),
        [['local.large', ['big']]],
      );
      assert.deepEqual(result.waiting, []);
    });
  });

  describe('after a refusal', () => {
    it('packs what a limit refuses once more into the offerings the limits still allow', () => {
      // Eight one-CPU tasks pack into one large (8 vCPUs, $0.30) rather than four smalls ($0.40), but maxVcpus=7
      // refuses it. Smalls (2 vCPUs each) are still allowed: three fit under 7 vCPUs, two tasks each, in queue order.
      // t0 has another owner: a limit, unlike a budget, refuses the instance whoever's tasks it holds, so the owners
      // are not tried apart (that would launch t0 alone first and pair the others differently).
      const web = { team: 'web', project: 'p', job: 'j' };
      const pending = ids('t', 8).map((id) => task({ id, ...(id === 't0' ? { owner: web } : {}) }));
      const i = input({ pending, policy: policy({ limits: { maxInstances: 8, maxVcpus: 7, maxGpus: 0 } }) });
      assert.deepEqual(instancesOf(i), ['local.small: t0,t1', 'local.small: t2,t3', 'local.small: t4,t5']);
      assert.deepEqual(plan(i).waiting, [
        { taskId: 't6', reason: 'burst limit reached (total maxVcpus=7)' },
        { taskId: 't7', reason: 'burst limit reached (total maxVcpus=7)' },
      ]);
    });

    it('gives each task an instance of its own when every packed instance is refused but a single one is not', () => {
      // Four tasks of 1.5 CPUs: one large holds all four ($0.30) where four smalls cost $0.40, but admitLaunch allows
      // no instance above $0.15/h. A small holds one such task: each gets its own.
      const pending = ids('t', 4).map((id) => task({ id, resources: { cpuMillis: 1500 } }));
      const admitLaunch = (o: Offering): string | undefined =>
        o.pricePerHourMicros > 150_000 ? `budget: ${o.instanceType} costs over $0.15/h` : undefined;
      const i = input({ pending, admitLaunch });
      assert.deepEqual(instancesOf(i), ['local.small: t0', 'local.small: t1', 'local.small: t2', 'local.small: t3']);
      assert.deepEqual(plan(i).waiting, []);
    });

    it('says which limit holds a task back that nothing within the limits fits', () => {
      // A 3-CPU task needs a large (8 vCPUs); maxVcpus=4 still allows a small, which is too small for it.
      const t = task({ id: 'x', resources: { cpuMillis: 3000 } });
      const result = plan(
        input({ pending: [t], policy: policy({ limits: { maxInstances: 8, maxVcpus: 4, maxGpus: 0 } }) }),
      );
      assert.deepEqual(result, {
        launches: [],
        waiting: [{ taskId: 'x', reason: 'burst limit reached (total maxVcpus=4)' }],
      });
    });
  });

  describe('the second round', () => {
    it('packs the refused tasks of one group again though another group launched', () => {
      // A revocable task fits a tiny spot offering (1 vCPU, $0.01/h) on its own; eight steady one-CPU tasks pack into
      // a large (8 vCPUs), which maxVcpus=7 refuses. With the spot instance's 1 vCPU counted, two smalls (4 vCPUs)
      // still fit under 7, two tasks each.
      const tiny = offering({
        instanceType: 'local.tiny',
        lifecycle: 'spot',
        capacity: { cpuMillis: 1000, memoryMiB: 1024 },
        pricePerHourMicros: 10_000,
      });
      const pending = [task({ id: 'r', revocable: true }), ...ids('t', 8).map((id) => task({ id }))];
      const i = input({
        offerings: [tiny, small, large],
        pending,
        policy: policy({ limits: { maxInstances: 8, maxVcpus: 7, maxGpus: 0 } }),
      });
      assert.deepEqual(instancesOf(i).sort(), ['local.small: t0,t1', 'local.small: t2,t3', 'local.small: t4,t5', 'local.tiny: r'].sort());
    });
  });

  describe('which limit a waiting task is told', () => {
    it('names the limit that refused the instance planned for the tasks, not a later round', () => {
      // Eight one-CPU tasks pack into one GCE large rather than four AWS smalls. Each provider allows no instance:
      // the GCE limit refused the planned instance; the AWS one only the smaller fallback.
      const awsSmall = offering({
        providerId: 'aws-ec2:us-east-1',
        provider: 'aws-ec2',
        region: 'us-east-1',
        zone: 'us-east-1a',
        instanceType: 'm7i.large',
        pricePerHourMicros: 100_000,
      });
      const gceLarge = offering({
        providerId: 'gcp-compute:us-central1',
        provider: 'gcp-compute',
        region: 'us-central1',
        zone: 'us-central1-a',
        instanceType: 'n2-standard-8',
        capacity: { cpuMillis: 8000, memoryMiB: 16384 },
        pricePerHourMicros: 300_000,
      });
      const none = { maxInstances: 0, maxVcpus: 0, maxGpus: 0 };
      const pending = ids('t', 8).map((id) => task({ id }));
      const roomy = policy({
        limits: { maxInstances: 100, maxVcpus: 1_000, maxGpus: 0 },
        providerLimits: { 'gcp-compute:us-central1': none, 'aws-ec2:us-east-1': none },
      });
      const result = plan(input({ offerings: [awsSmall, gceLarge], pending, policy: roomy }));
      assert.deepEqual(result.launches, []);
      assert.deepEqual(
        result.waiting,
        pending.map((t) => ({ taskId: t.id, reason: 'burst limit reached (gcp-compute:us-central1 maxInstances=0)' })),
      );
    });
  });

  describe('other offerings for a refused instance', () => {
    /** Offerings named by the dimension they lack, cheapest, then the one packed, then one more that also fits. */
    const cases: { name: string; need: Parameters<typeof task>[0]; lacking: Parameters<typeof offering>[0] }[] = [
      { name: 'CPU', need: { resources: { cpuMillis: 1500 } }, lacking: { capacity: { cpuMillis: 1000 } } },
      { name: 'memory', need: { resources: { memoryMiB: 3000 } }, lacking: { capacity: { memoryMiB: 2048 } } },
      {
        name: 'GPUs',
        need: { resources: { gpus: 1 } },
        lacking: { capacity: { gpus: 0 } },
      },
      { name: 'network', need: { resources: { netMbps: 2000 } }, lacking: { capacity: { netMbps: 1000 } } },
      { name: 'eligibility (spot for a steady task)', need: {}, lacking: { lifecycle: 'spot' } },
    ];
    for (const c of cases) {
      it(`skips a cheaper offering that lacks the ${c.name} the tasks need`, () => {
        const gpus = { gpus: 1 };
        const lacking = offering({
          instanceType: 'cheap.lacking',
          pricePerHourMicros: 50_000,
          ...c.lacking,
          capacity: { ...gpus, ...(c.lacking?.capacity ?? {}), netMbps: c.lacking?.capacity?.netMbps ?? 4000 },
        });
        const packed = offering({
          instanceType: 'packed',
          pricePerHourMicros: 100_000,
          capacity: { ...gpus, netMbps: 4000 },
        });
        const next = offering({ instanceType: 'next', pricePerHourMicros: 200_000, capacity: { ...gpus, netMbps: 4000 } });
        const t = task({ id: 'x', ...c.need });
        const asked: string[] = [];
        const admitLaunch = (o: Offering): string | undefined => {
          asked.push(o.instanceType);
          return o === packed ? 'packed is refused' : undefined;
        };
        const i = input({
          offerings: [lacking, packed, next],
          pending: [t],
          admitLaunch,
          policy: policy({ limits: { maxInstances: 8, maxVcpus: 32, maxGpus: 8 } }),
        });
        assert.deepEqual(instancesOf(i), ['next: x']);
        assert.deepEqual(asked, ['packed', 'next']);
      });
    }

    const halves: { name: string; each: Partial<Resources>; half: Partial<Resources> }[] = [
      { name: 'CPU', each: { cpuMillis: 1000 }, half: { cpuMillis: 1500 } },
      { name: 'memory', each: { memoryMiB: 1500 }, half: { memoryMiB: 2048 } },
      { name: 'GPUs', each: { gpus: 1 }, half: { gpus: 1 } },
      { name: 'network', each: { netMbps: 1500 }, half: { netMbps: 2000 } },
    ];
    for (const c of halves) {
      it(`counts the ${c.name} of every task of the instance when it looks for another offering that holds them`, () => {
        // Two tasks: 'half' holds one, 'packed' and 'next' hold both (2 CPUs, 4 GiB, 2 GPUs, 4 Gbit/s).
        const both = { gpus: 2, netMbps: 4000 };
        const half = offering({ instanceType: 'half', capacity: { ...both, ...c.half }, pricePerHourMicros: 60_000 });
        const packed = offering({ instanceType: 'packed', capacity: both, pricePerHourMicros: 100_000 });
        const next = offering({ instanceType: 'next', capacity: both, pricePerHourMicros: 200_000 });
        const admitLaunch = (o: Offering): string | undefined => (o === packed ? 'packed is refused' : undefined);
        const pending = [task({ id: 'a', resources: c.each }), task({ id: 'b', resources: c.each })];
        const gpus = policy({ limits: { maxInstances: 8, maxVcpus: 32, maxGpus: 8 } });
        const i = input({ offerings: [half, packed, next], pending, admitLaunch, policy: gpus });
        assert.deepEqual(instancesOf(i), ['next: a,b']);
      });
    }

    it('asks for tasks of two classes in one instance only offerings both may run on', () => {
      // A revocable and a steady task share 'packed'; the spot offering is cheaper but only the revocable may use it.
      const spot = offering({ instanceType: 'spot', lifecycle: 'spot', pricePerHourMicros: 20_000 });
      const packed = offering({ instanceType: 'packed', pricePerHourMicros: 100_000 });
      const next = offering({ instanceType: 'next', pricePerHourMicros: 200_000 });
      const admitLaunch = (o: Offering): string | undefined => (o === packed ? 'packed is refused' : undefined);
      const pending = [task({ id: 'steady' }), task({ id: 'revocable', revocable: true })];
      const [only] = planInstances(input({ offerings: [spot, packed, next], pending, admitLaunch })).instances;
      assert.equal(only?.offering.instanceType, 'next');
      assert.deepEqual(only.tasks.map((t) => t.id).sort(), ['revocable', 'steady']);
    });

    it('tries the packed offering, then at most the eight next cheapest that hold the same tasks', () => {
      // Ten offerings that each hold both tasks; admitLaunch allows only the dearest, o9.
      const os = Array.from({ length: 10 }, (_, k) =>
        offering({ instanceType: `o${k}`, pricePerHourMicros: 100_000 + k * 1_000 }),
      );
      const asked: string[] = [];
      const admitLaunch = (o: Offering, tasks: readonly Task[]): string | undefined => {
        asked.push(`${o.instanceType}: ${tasks.map((t) => t.id).join(',')}`);
        return o === os[9] ? undefined : `${o.instanceType} is refused`;
      };
      const pending = [task({ id: 'a' }), task({ id: 'b' })];
      const result = plan(input({ offerings: os, pending, admitLaunch }));
      const asks = (tasks: string, n: number): string[] => os.slice(0, n).map((o) => `${o.instanceType}: ${tasks}`);
      assert.deepEqual(
        asked,
        [
          // The packed o0, then o1 to o8 (o9 is past the eight alternatives); one owner, so no owner is tried apart.
          ...asks('a,b', 9),
          // Packed again within the limits (which refused nothing): the same answers.
          ...asks('a,b', 9),
          // Each task on its own, on every offering that holds it, cheapest first, until one is admitted.
          ...asks('a', 10),
          ...asks('b', 10),
        ],
      );
      // Each task then gets an instance on its own, where every allowed offering is tried.
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.count, l.taskIds]),
        [['o9', 2, ['a', 'b']]],
      );
    });
  });

  describe('owners of a refused instance', () => {
    const red = (id: string, more: Parameters<typeof task>[0] = {}): Task =>
      task({ id, owner: { team: 'red', project: 'p', job: 'j' }, ...more });
    const blue = (id: string, more: Parameters<typeof task>[0] = {}): Task =>
      task({ id, owner: { team: 'blue', project: 'p', job: 'j' }, ...more });

    it("tries each owner's part on the packed offering and at most the eight next cheapest", () => {
      // Ten offerings of 4 CPUs, each holding all four tasks; admitLaunch allows only the dearest, o9.
      const os = Array.from({ length: 10 }, (_, k) =>
        offering({ instanceType: `o${k}`, capacity: { cpuMillis: 4000 }, pricePerHourMicros: 100_000 + k * 1_000 }),
      );
      const asked: string[] = [];
      const admitLaunch = (o: Offering, tasks: readonly Task[]): string | undefined => {
        asked.push(`${o.instanceType}: ${tasks.map((t) => t.id).join(',')}`);
        return o === os[9] ? undefined : `${o.instanceType} is refused`;
      };
      const pending = [red('a1'), blue('b1'), red('a2'), blue('b2')];
      const result = plan(input({ offerings: os, pending, admitLaunch }));
      const nine = (tasks: string): string[] => os.slice(0, 9).map((o) => `${o.instanceType}: ${tasks}`);
      assert.deepEqual(
        asked.slice(0, 27),
        [...nine('a1,b1,a2,b2'), ...nine('a1,a2'), ...nine('b1,b2')],
        'the mix on o0 to o8, then each owner on o0 to o8',
      );
      assert.ok(!asked.some((a) => a.startsWith('o9: ') && a.includes(',')), 'o9 is never asked for two tasks');
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.count, [...l.taskIds].sort()]),
        [['o9', 4, ['a1', 'a2', 'b1', 'b2']]],
      );
    });

    it("puts an owner's part on the cheapest offering its own tasks may run on", () => {
      // Red's revocable task and blue's steady one share 'packed' (one instance beats spot + packed); blue is capped.
      const spot = offering({ instanceType: 'spot', lifecycle: 'spot', pricePerHourMicros: 20_000 });
      const packed = offering({ instanceType: 'packed', pricePerHourMicros: 100_000 });
      const admitLaunch = (_o: Offering, tasks: readonly Task[]): string | undefined =>
        tasks.some((t) => t.owner.team === 'blue') ? 'budget blue is at its cap' : undefined;
      const result = plan(
        input({ offerings: [spot, packed], pending: [blue('b'), red('r', { revocable: true })], admitLaunch }),
      );
      assert.deepEqual(
        result.launches.map((l) => [l.offering.instanceType, l.taskIds]),
        [['spot', ['r']]],
      );
      assert.deepEqual(result.waiting, [{ taskId: 'b', reason: 'budget blue is at its cap' }]);
    });
  });

  describe('breakers', () => {
    it("gives a task a breaker's reason only for an offering the task may run on", () => {
      // The task needs label pool=a, which no offering has: a breaker on local.small is not why it waits.
      const t = task({ id: 'x', constraints: { labels: { pool: 'a' } } });
      const result = plan(input({ pending: [t], blocked: new Map([[offeringKey(small), 'local.small is held']]) }));
      assert.deepEqual(result.waiting, [{ taskId: 'x', reason: 'no allowed offering fits cpu=1 mem=1Gi' }]);
    });
  });

  describe('in slices', () => {
    it('ends a slice every 64 instances it admits', async () => {
      // n two-CPU tasks, one per small: one pattern repeated n times. What the rest of the plan pauses for does not
      // depend on n, so 6,400 instances pause (6,400 - 640) / 64 = 90 times more than 640.
      const pauses = async (n: number): Promise<number> => {
        const pending = Array.from({ length: n }, (_, k) => task({ id: `t${k}`, resources: { cpuMillis: 2000 } }));
        const roomy = policy({ limits: { maxInstances: 100_000, maxVcpus: 1_000_000, maxGpus: 0 } });
        let count = 0;
        const result = await planSliced(input({ pending, offerings: [small], policy: roomy }), {
          sliceMs: 0,
          pause: () => {
            count++;
            return Promise.resolve();
          },
        });
        assert.equal(result.launches[0]?.count, n);
        return count;
      };
      assert.equal((await pauses(6_400)) - (await pauses(640)), 90);
    });
  });

  describe('the launch command', () => {
    it('says how many tasks waited how long, what it launches where and at what price each', () => {
      // Three one-CPU tasks, only local.small (2 CPUs, $0.10/h): two instances, $0.20/h over 3 tasks = $0.0667/h.
      const pending = ids('t', 3).map((id) => task({ id }));
      const result = plan(input({ offerings: [small], pending }));
      assert.deepEqual(result.launches, [
        {
          kind: 'launch',
          offering: small,
          count: 2,
          owners: [{ owner: { team: 'ml', project: 'vision', job: 'train' }, share: 1 }],
          taskIds: ['t0', 't1', 't2'],
          reason:
            '3 task(s) waited over 5 s with no room; 2 x local.small (on-demand) in local-a at $0.1000/h, ' +
            '$0.0667/h per task: the cheapest allowed fit',
        },
      ]);
    });
  });
});
