import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { plan, planClasses, type ClassPlanInput } from '../../src/autoscaler/planner.ts';
import type { PendingClass } from '../../src/autoscaler/planner-groups.ts';
import type { TaskHeader as Task } from '../../src/core/task.ts';
import { offering, policy, T0, task } from '../fakes/builders.ts';
import { inputOf, RUNS, scenarioArb } from './planner-scenarios.ts';

/**
 * The planner's entry for pending tasks handed over in classes (what the controller's in-memory model keeps) decides
 * exactly what `plan` decides for the same tasks in one list: grouping by class is a cost, never a decision.
 */

/**
 * A reference partition written here, not the planner's: tasks with the same resources, revocability, priority,
 * constraints (as written) and owner scope (team and project), split further by `split[i]` (any finer partition is
 * allowed), each task ranked by its index in `tasks`.
 */
function partition(tasks: readonly Task[], split: readonly number[] = []): PendingClass[] {
  const classes = new Map<string, { tasks: Task[]; ranks: number[] }>();
  tasks.forEach((t, i) => {
    const key = JSON.stringify([
      t.resources.cpuMillis,
      t.resources.memoryMiB,
      t.resources.gpus,
      t.resources.netMbps,
      t.revocable,
      t.priority,
      t.constraints,
      t.owner.team,
      t.owner.project,
      split[i] ?? 0,
    ]);
    let c = classes.get(key);
    if (!c) classes.set(key, (c = { tasks: [], ranks: [] }));
    c.tasks.push(t);
    c.ranks.push(i);
  });
  return [...classes.values()];
}

const small = offering({ instanceType: 'local.small', pricePerHourMicros: 100_000 });

describe('planner: pending tasks in classes', () => {
  it('takes the tasks of one shape from several classes in queue order, not class by class', () => {
    // Two owners' one-CPU tasks, interleaved in the queue; local.small holds two, so instances pair queue neighbours.
    const red = [0, 2, 4].map((i) => task({ id: `t${i}`, owner: { team: 'red', project: 'p', job: 'j' } }));
    const blue = [1, 3, 5].map((i) => task({ id: `t${i}`, owner: { team: 'blue', project: 'p', job: 'j' } }));
    const input: ClassPlanInput = {
      nowMs: T0 + 10_000,
      policy: policy(),
      pending: [
        { tasks: blue, ranks: [1, 3, 5] },
        { tasks: red, ranks: [0, 2, 4] },
      ],
      agents: [],
      openLaunches: [],
      offerings: [small],
      unavailable: new Set(),
    };
    const result = planClasses(input);
    assert.equal(result.launches.length, 1);
    assert.equal(result.launches[0]!.count, 3);
    assert.deepEqual(result.launches[0]!.taskIds, ['t0', 't1', 't2', 't3', 't4', 't5']);
    assert.deepEqual(result.waiting, []);
  });

  it('lists private-only and refused tasks by rank, private-only ones first', () => {
    const mine = { team: 'red', project: 'p', job: 'j' };
    const priv = [task({ id: 'p3', owner: mine, constraints: { privateOnly: true } })];
    const big = [8, 6].map((i) => task({ id: `b${i}`, owner: mine, resources: { cpuMillis: 64_000 } }));
    const young = [task({ id: 'y0', owner: mine, pendingSinceMs: T0 + 9_000 })];
    const input: ClassPlanInput = {
      nowMs: T0 + 10_000,
      policy: policy(),
      pending: [
        { tasks: big, ranks: [6, 8] },
        { tasks: young, ranks: [0] },
        { tasks: priv, ranks: [3] },
      ],
      agents: [],
      openLaunches: [],
      offerings: [small],
      unavailable: new Set(),
    };
    const result = planClasses(input);
    assert.deepEqual(result.launches, []);
    assert.deepEqual(
      result.waiting.map((w) => w.taskId),
      ['p3', 'b8', 'b6'],
    );
    assert.match(result.waiting[0]!.reason, /private-only/);
    assert.match(result.waiting[1]!.reason, /no allowed offering fits/);
  });

  it('decides exactly what plan decides over the same tasks in one list (property)', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 50 }),
        fc.boolean(),
        (s, split, reversed) => {
          const whole = plan(inputOf(s).input);
          const { input } = inputOf(s);
          const classes = partition(s.tasks, split);
          if (reversed) classes.reverse();
          const grouped = planClasses({ ...input, pending: classes });
          assert.deepEqual(grouped, whole);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('decides what plan decides when few shapes repeat over priorities, owners and constraints (property)', () => {
    // Few shapes, so classes that differ only in priority, revocability, a label or the owner share a shape.
    const large = offering({
      instanceType: 'local.large',
      capacity: { cpuMillis: 8000, memoryMiB: 16384 },
      pricePerHourMicros: 300_000,
      labels: { pool: 'a' },
    });
    const spot = offering({ instanceType: 'local.small', lifecycle: 'spot', pricePerHourMicros: 30_000 });
    const specArb = fc.record({
      shape: fc.integer({ min: 0, max: 3 }),
      priority: fc.integer({ min: 0, max: 2 }),
      team: fc.constantFrom('red', 'blue', 'green'),
      revocable: fc.boolean(),
      pool: fc.constantFrom(undefined, 'a', 'b'),
      waited: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(specArb, { maxLength: 60 }),
        fc.integer({ min: 0, max: 12 }),
        fc.option(fc.integer({ min: 0, max: 2_000_000 })),
        (specs, maxInstances, budget) => {
          const tasks = specs.map((s, i) =>
            task({
              id: `f${String(i).padStart(2, '0')}`,
              owner: { team: s.team, project: 'p', job: `j${i % 5}` },
              resources: { cpuMillis: 500 * (1 + s.shape), memoryMiB: 1024 * (1 + (s.shape % 2)) },
              priority: s.priority,
              revocable: s.revocable,
              pendingSinceMs: s.waited ? T0 : T0 + 9_000,
              constraints: s.pool ? { labels: { pool: s.pool } } : {},
            }),
          );
          const inputFor = (): Omit<ClassPlanInput, 'pending'> => {
            let spent = 0;
            return {
              nowMs: T0 + 10_000,
              policy: policy({ spot: { allowed: true }, limits: { maxInstances, maxVcpus: 1_000, maxGpus: 0 } }),
              agents: [],
              openLaunches: [],
              offerings: [small, large, spot],
              unavailable: new Set(),
              ...(budget === null
                ? {}
                : {
                    admitLaunch: (o) => {
                      if (spent + o.pricePerHourMicros > budget) return `budget ${budget} reached`;
                      spent += o.pricePerHourMicros;
                      return undefined;
                    },
                  }),
            };
          };
          const whole = plan({ ...inputFor(), pending: tasks });
          assert.deepEqual(planClasses({ ...inputFor(), pending: partition(tasks).reverse() }), whole);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('plans many tasks of few classes as plan does (seeded)', () => {
    // Larger than the scenarios: 3,000 tasks over 6 shapes and 3 owners, in queue order.
    const offerings = [
      small,
      offering({
        instanceType: 'local.large',
        capacity: { cpuMillis: 8000, memoryMiB: 16384 },
        pricePerHourMicros: 300_000,
      }),
    ];
    const tasks = Array.from({ length: 3_000 }, (_, i) =>
      task({
        id: `m${i}`,
        owner: { team: ['red', 'blue', 'green'][i % 3]!, project: 'p', job: `j${i}` },
        resources: { cpuMillis: 500 * (1 + (i % 3)), memoryMiB: 1024 * (1 + (i % 2)) },
      }),
    );
    const base = {
      nowMs: T0 + 10_000,
      policy: policy({ limits: { maxInstances: 100, maxVcpus: 100_000, maxGpus: 0 } }),
      agents: [],
      openLaunches: [],
      offerings,
      unavailable: new Set<string>(),
    };
    const whole = plan({ ...base, pending: tasks });
    assert.ok(whole.launches.length > 0 && whole.waiting.length > 0, 'the limit binds: some launch, some wait');
    assert.deepEqual(planClasses({ ...base, pending: partition(tasks) }), whole);
  });
});
