import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { offeringKey } from '../../src/core/offering.ts';
import { fluidLowerBound } from '../../src/cost-model/lower-bound.ts';
import { offering, policy, task } from '../fakes/builders.ts';

// What the bound reports besides its cost: which offerings the LP keeps after the dominance reduction, and which
// instances its optimum uses, in what order. Every figure is worked out by hand from the capacities and prices.
const tasks = (n: number, cpuMillis: number, memoryMiB: number) =>
  Array.from({ length: n }, () => task({ resources: { cpuMillis, memoryMiB } }));
const near = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, expected), `${actual} != ${expected}`);

describe('fluid lower bound: reduction and report', () => {
  it('keeps no offering that fits none of the tasks, however cheap', async () => {
    const tiny = offering({
      instanceType: 'tiny',
      capacity: { cpuMillis: 1000, memoryMiB: 1024 },
      pricePerHourMicros: 1,
    });
    const big = offering({
      instanceType: 'big',
      capacity: { cpuMillis: 8000, memoryMiB: 16_384 },
      pricePerHourMicros: 800_000,
    });
    const bound = await fluidLowerBound(tasks(2, 8000, 1024), [tiny, big], policy());
    assert.equal(bound.stats.offerings, 1);
    assert.deepEqual(
      bound.instances.map((i) => i.offeringKey),
      [offeringKey(big)],
    );
    near(bound.costPerHourMicros, 1_600_000);
  });

  it('keeps one of two offerings with the same prices and capacities: the first by key', async () => {
    const shape = { capacity: { cpuMillis: 4000, memoryMiB: 8192 }, pricePerHourMicros: 200_000 };
    const zoneB = offering({ ...shape, instanceType: 'm', zone: 'local-b' });
    const zoneA = offering({ ...shape, instanceType: 'm', zone: 'local-a' });
    const bound = await fluidLowerBound(tasks(8, 1000, 1024), [zoneB, zoneA], policy());
    assert.equal(bound.stats.offerings, 1);
    assert.deepEqual(bound.instances, [{ offeringKey: offeringKey(zoneA), count: 2 }]);
  });

  it('lists only the offerings its optimum uses', async () => {
    // Neither dominates: a.cpu is cheaper per CPU, b.mem per GiB. CPU-heavy tasks use a.cpu only: 4 x 1/4 = 1.
    const cpu = offering({
      instanceType: 'a.cpu',
      capacity: { cpuMillis: 4000, memoryMiB: 8192 },
      pricePerHourMicros: 100_000,
    });
    const mem = offering({
      instanceType: 'b.mem',
      capacity: { cpuMillis: 2000, memoryMiB: 16_384 },
      pricePerHourMicros: 100_000,
    });
    const bound = await fluidLowerBound(tasks(4, 1000, 1024), [cpu, mem], policy());
    assert.equal(bound.stats.offerings, 2);
    assert.equal(bound.instances.length, 1);
    assert.equal(bound.instances[0]!.offeringKey, offeringKey(cpu));
    near(bound.instances[0]!.count, 1);
  });

  it('orders the instances by their share of the cost, dearest first, and equal shares by key', async () => {
    // 8-CPU tasks fit only the 16-CPU type (half of one each); 32-GiB tasks only the 64-GiB type (half of one each).
    const cpuShape = { capacity: { cpuMillis: 16_000, memoryMiB: 4096 }, pricePerHourMicros: 100_000 };
    const memShape = { capacity: { cpuMillis: 2000, memoryMiB: 65_536 }, pricePerHourMicros: 300_000 };
    const order = async (cpuType: string, memType: string, cpuTasks: number) => {
      const cpu = offering({ ...cpuShape, instanceType: cpuType });
      const mem = offering({ ...memShape, instanceType: memType });
      const bound = await fluidLowerBound(
        [...tasks(cpuTasks, 8000, 1024), ...tasks(1, 1000, 32_768)],
        [cpu, mem],
        policy(),
      );
      return bound.instances.map((i) => [i.offeringKey, Math.round(i.count * 1000) / 1000]);
    };
    const key = (type: string) => offeringKey(offering({ instanceType: type }));
    // Two CPU tasks: 1 x $0.10 against 0.5 x $0.30, so the memory type's share is dearer.
    assert.deepEqual(await order('a.cpu', 'b.mem', 2), [
      [key('b.mem'), 0.5],
      [key('a.cpu'), 1],
    ]);
    // Four CPU tasks: 2 x $0.10 against 0.5 x $0.30, so the CPU type's share is dearer.
    assert.deepEqual(await order('a.cpu', 'b.mem', 4), [
      [key('a.cpu'), 2],
      [key('b.mem'), 0.5],
    ]);
    // Three CPU tasks: 1.5 x $0.10 and 0.5 x $0.30 cost the same: by key, whichever is cheaper to rent.
    assert.deepEqual(await order('a.cpu', 'b.mem', 3), [
      [key('a.cpu'), 1.5],
      [key('b.mem'), 0.5],
    ]);
    assert.deepEqual(await order('z.cpu', 'b.mem', 3), [
      [key('b.mem'), 0.5],
      [key('z.cpu'), 1.5],
    ]);
  });
});
