import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import { pack } from '../../src/autoscaler/planner-packing.ts';
import type { Offering } from '../../src/core/offering.ts';
import { firstForClassOne, group, input, off, shape } from './packing-fixtures.ts';

/**
 * The packer's shortlist (planner-packing.ts, over more than 48 kept offerings) in each dimension: planner-packing.test.ts
 * states a winner found only by price per head task, and one found only by price per value of the demand left, where
 * CPU is what limits; here memory, GPUs or network limits instead. Each plan is worked out by hand below.
 */

type Dim = 'memory' | 'gpus' | 'net';

/** A unit of each dimension: a task takes a whole number of them, an offering holds a whole number. */
const UNIT: Record<Dim, number> = { memory: 1024, gpus: 1, net: 500 };

/**
 * Offering `name` with `units` units of `dim`, at `price`; the `index`-th of the list, with 1000 + index millis and
 * 4096 + index MiB (more than any task here needs), so a later offering is never smaller in CPU: none is dominated by
 * a cheaper one.
 */
function offer(dim: Dim, name: string, units: number, price: number, index: number): Offering {
  const u = units * UNIT[dim];
  if (dim === 'memory') return off(name, 1000 + index, u + index, price);
  return off(name, 1000 + index, 4096 + index, price, dim === 'gpus' ? u : 0, dim === 'net' ? u : 0);
}

/** A task of `units` units of `dim`, 1 millis and 1 MiB otherwise. */
function task(dim: Dim, units: number): TaskGroup {
  const u = units * UNIT[dim];
  if (dim === 'memory') return group(1, u);
  return group(1, 1, dim === 'gpus' ? { gpus: u } : { netMbps: u });
}

/** Z (first, 10, the only offering class 1 may run, and only it) and the rest for class 0. */
function withZ(rest: (index: number) => Offering[]): { offerings: Offering[]; eligibility: Uint8Array } {
  const offerings = [off('Z', 1000, 4096, 10), ...rest(1)];
  const eligibility = firstForClassOne(offerings);
  return { offerings, eligibility };
}

describe('planner packing: the shortlist in each dimension', () => {
  it('counts the demand left of the classes an offering may run only', () => {
    // planner-packing.test.ts's fluid case (CPU): one head task of 2000 millis and 29 fillers of 1000 (1 MiB each);
    // 24 small offerings (2000 to 2023 millis, 1024 to 1047 MiB, 1500 to 1523) hold the head alone; B (31000 millis,
    // 4096 MiB, 20000) holds all thirty and is the best by price per value of the demand left: 20000 against 23250.
    // Here class 1 has eleven tasks of 100 GiB each, which only Z (first, 200 GiB, 10) may run: five Z of two and one
    // of one (under-filled, so re-packed with any other under-filled single instance); they have the lower priority,
    // so every group order plans them last and their demand is still left while class 0 is planned. Counted for the
    // class-0 offerings too, that demand would make memory what limits each one's share of it, and B (4096 MiB for
    // 20000) would rank below the small ones (1024 MiB for 1500) and out of the shortlist.
    const offerings = [off('Z', 1000, 204_800, 10)];
    for (let i = 0; i < 24; i++) offerings.push(off(`s${i}`, 2000 + i, 1024 + i, 1500 + i));
    offerings.push(off('B', 31_000, 4096, 20_000));
    for (let j = 0; j < 25; j++) offerings.push(off(`x${j}`, 31_100 + 100 * j, 4096 + j, 30_000 + 100 * j));
    const eligibility = firstForClassOne(offerings);
    const groups = [group(2000, 1, { priority: 1 }), group(1000, 1, { priority: 1 }), group(1, 102_400, { classIndex: 1 })];
    const packing = pack(input(groups, [1, 29, 11], offerings, eligibility, 2));
    assert.deepEqual(shape(offerings, packing).sort(), ['1 x B [g0:1 g1:29]', '1 x Z [g2:1]', '5 x Z [g2:2]']);
    assert.equal(packing.costPerHourMicros, 20_060);
  });

  // Offerings and tasks with nothing in one dimension (the schema allows 0 CPU or 0 memory): a dimension the head or
  // the demand left does not need is not divided by (0 / 0 would make every offering's score NaN, and the shortlist
  // the first sixteen). `cap(units, index)` is an offering's [CPU, memory] for `units` of what limits, `need` a task's.
  const zeroCases = [
    { what: 'no CPU', cap: (units: number, i: number) => [0, 1024 * units + i], need: (units: number) => [0, 1024 * units] },
    { what: 'no memory', cap: (units: number, i: number) => [1000 * units + i, 0], need: (units: number) => [1000 * units, 0] },
  ];
  for (const { what, cap, need } of zeroCases) {
    it(`by price per head task, where offerings and tasks have ${what}`, () => {
      // As the cases below: 8 of 2 units (1100 up), 16 of 5 (2400 up), B of 6 (3000), 25 of 6 (3100 up); each a
      // little bigger than the one before, so none is dominated. Thirty tasks of 2 units: ten B.
      const offerings = [off('Z', 1000, 1024, 10)];
      const add = (name: string, units: number, price: number): number => offerings.push(off(name, ...(cap(units, offerings.length) as [number, number]), price));
      for (let k = 0; k < 8; k++) add(`s${k}`, 2, 1100 + 10 * k);
      for (let k = 0; k < 16; k++) add(`d${k}`, 5, 2400 + 5 * k);
      add('B', 6, 3000);
      for (let k = 0; k < 25; k++) add(`x${k}`, 6, 3100 + 10 * k);
      const eligibility = new Uint8Array(2 * offerings.length).fill(1, 1, offerings.length);
      eligibility[offerings.length] = 1;
      // The class-1 task is group 0, so the head here is group 1 (its sizes are read at 1 x 4 + d).
      const groups = [group(1000, 1024, { classIndex: 1 }), group(...(need(2) as [number, number]))];
      const packing = pack(input(groups, [1, 30], offerings, eligibility, 2));
      assert.deepEqual(shape(offerings, packing).sort(), ['1 x Z [g0:1]', '10 x B [g1:3]']);
      assert.equal(packing.costPerHourMicros, 30_010);
    });

    it(`by price per value of the demand left, where offerings and tasks have ${what}`, () => {
      // As the cases below: a head of 2 units and 29 fillers of 1; 24 of 2 units (1500 up) hold the head alone, B of
      // 31 (20000) holds all thirty, 25 dearer of 31 follow.
      const offerings = [off('Z', 1000, 1024, 10)];
      const add = (name: string, units: number, price: number): number => offerings.push(off(name, ...(cap(units, offerings.length) as [number, number]), price));
      for (let k = 0; k < 24; k++) add(`s${k}`, 2, 1500 + k);
      add('B', 31, 20_000);
      for (let k = 0; k < 25; k++) add(`x${k}`, 31, 30_000 + 100 * k);
      const eligibility = new Uint8Array(2 * offerings.length).fill(1, 1, offerings.length);
      eligibility[offerings.length] = 1;
      const groups = [group(...(need(2) as [number, number])), group(...(need(1) as [number, number])), group(1000, 1024, { classIndex: 1 })];
      const packing = pack(input(groups, [1, 29, 1], offerings, eligibility, 2));
      assert.deepEqual(shape(offerings, packing).sort(), ['1 x B [g0:1 g1:29]', '1 x Z [g2:1]']);
      assert.equal(packing.costPerHourMicros, 20_010);
    });
  }

  for (const dim of ['memory', 'gpus', 'net'] as const) {
    it(`over more than 48 offerings, scores in full one found only by price per head task (${dim})`, () => {
      // Thirty tasks of 2 units. Eight small offerings of 2 units (one task, 1100 to 1170), sixteen of 5 units (two
      // tasks, but 2.5 as if the demand were fluid: 2400 to 2475), B of 6 units (three tasks, 3000), 25 dearer ones of
      // 6 units (3100 and up). Per head task B costs 1000, the others at least 1033 (x0) or 1100: B ranks first, then
      // x0 to x14, so it is in the shortlist by price per head task. As if fluid (price per unit) the sixteen rank
      // first (480 to 495, below B's 500): B is not among them, nor among the eight cheapest. Every instance costs
      // at least 1000 a task, so ten B (30000) are the least. A class-1 task only Z may run keeps the one-type plan
      // out.
      const { offerings, eligibility } = withZ((first) => {
        const list: Offering[] = [];
        let i = first;
        for (let k = 0; k < 8; k++) list.push(offer(dim, `s${k}`, 2, 1100 + 10 * k, i++));
        for (let k = 0; k < 16; k++) list.push(offer(dim, `d${k}`, 5, 2400 + 5 * k, i++));
        list.push(offer(dim, 'B', 6, 3000, i++));
        for (let k = 0; k < 25; k++) list.push(offer(dim, `x${k}`, 6, 3100 + 10 * k, i++));
        return list;
      });
      // The class-1 task is group 0, so the head here is group 1 (its sizes are read at 1 x 4 + d).
      const groups = [group(1000, 1024, { classIndex: 1 }), task(dim, 2)];
      const packing = pack(input(groups, [1, 30], offerings, eligibility, 2));
      assert.deepEqual(shape(offerings, packing).sort(), ['1 x Z [g0:1]', '10 x B [g1:3]']);
      assert.equal(packing.costPerHourMicros, 30_010);
    });

    it(`over more than 48 offerings, scores in full one found only by price per value of the demand left (${dim})`, () => {
      // One head task of 2 units and 29 fillers of 1 unit. 24 small offerings of 2 units (1500 to 1523) hold the head
      // alone: they are the cheapest and the best per head task (one task each). B of 31 units (20000) holds all
      // thirty: the best per value of the demand left (price per unit: 645 against 750 for a small one), so it is
      // scored in full: 20000 for all, less than the head on a small one (1500) and the 29 fillers on fifteen more.
      // 25 dearer ones of 31 units (30000 and up) follow. Z as above.
      const { offerings, eligibility } = withZ((first) => {
        const list: Offering[] = [];
        let i = first;
        for (let k = 0; k < 24; k++) list.push(offer(dim, `s${k}`, 2, 1500 + k, i++));
        list.push(offer(dim, 'B', 31, 20_000, i++));
        for (let k = 0; k < 25; k++) list.push(offer(dim, `x${k}`, 31, 30_000 + 100 * k, i++));
        return list;
      });
      const groups = [task(dim, 2), task(dim, 1), group(1000, 1024, { classIndex: 1 })];
      const packing = pack(input(groups, [1, 29, 1], offerings, eligibility, 2));
      assert.deepEqual(shape(offerings, packing).sort(), ['1 x B [g0:1 g1:29]', '1 x Z [g2:1]']);
      assert.equal(packing.costPerHourMicros, 20_010);
    });
  }
});
