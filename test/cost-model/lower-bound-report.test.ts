import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { fluidLowerBound } from '../../src/cost-model/lower-bound.ts';
import { offering, policy, task } from '../fakes/builders.ts';

const small = offering({
  instanceType: 'small',
  capacity: { cpuMillis: 2000, memoryMiB: 4096 },
  pricePerHourMicros: 100_000,
});
const large = offering({
  instanceType: 'large',
  capacity: { cpuMillis: 8000, memoryMiB: 16_384 },
  pricePerHourMicros: 300_000,
});
const t4 = offering({
  instanceType: 'gpu.t4',
  capacity: { cpuMillis: 8000, memoryMiB: 65_536, gpus: 1 },
  gpuModel: 'T4-16GB',
  labels: { 'gpu.model': 'T4-16GB' },
  pricePerHourMicros: 500_000,
});

const near = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, expected), `${actual} != ${expected}`);

describe('fluid lower bound report', () => {
  it('reports an empty bound for no tasks: no instances, no classes, an LP of size 0', async () => {
    assert.deepEqual(await fluidLowerBound([], [small, large], policy()), {
      costPerHourMicros: 0,
      coveredTaskIds: [],
      uncoveredTaskIds: [],
      instances: [],
      classes: [],
      stats: { classes: 0, offerings: 0, variables: 0 },
    });
  });

  it('lists the instances the optimum uses, dearest share first, and each class with its task ids', async () => {
    // The GPU task needs one whole t4 ($0.50/h); its 7 spare vCPUs take 7 of the 9 one-vCPU tasks, and the last 2
    // vCPUs are cheapest on a quarter of a large (8 vCPUs for $0.30/h): 500,000 + 75,000. The small is not used.
    const cpu = Array.from({ length: 9 }, () => task());
    const gpu = task({ resources: { gpus: 1 } });
    const bound = await fluidLowerBound([...cpu, gpu], [small, large, t4], policy());
    near(bound.costPerHourMicros, 575_000);
    assert.deepEqual(
      bound.instances.map((i) => i.offeringKey),
      ['local:test/local-a/gpu.t4/on-demand', 'local:test/local-a/large/on-demand'],
    );
    near(bound.instances[0]!.count, 1);
    near(bound.instances[1]!.count, 0.25);
    // Classes in any order; each holds exactly its tasks.
    assert.deepEqual(
      bound.classes.map((c) => [...c.taskIds].sort()).sort((a, b) => b.length - a.length),
      [cpu.map((t) => t.id).sort(), [gpu.id]],
    );
  });

  it('puts tasks that differ only in priority in one class: the bound ignores priority', async () => {
    const tasks = [task({ priority: 0 }), task({ priority: 5 }), task({ priority: 9 })];
    const bound = await fluidLowerBound(tasks, [large], policy());
    assert.equal(bound.stats.classes, 1);
    assert.deepEqual(
      bound.classes.map((c) => [...c.taskIds].sort()),
      [tasks.map((t) => t.id).sort()],
    );
    near(bound.costPerHourMicros, (3 / 8) * 300_000);
  });
});
