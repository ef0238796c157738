import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import { pack, packSteps } from '../../src/autoscaler/planner-packing.ts';
import type { PackingInput } from '../../src/autoscaler/planner-packing-types.ts';
import { firstForClassOne, group, input, off, shape } from './packing-fixtures.ts';
import { leastCost } from './packing-search.ts';

/**
 * The packer (planner-packing.ts) on small hand-worked inputs: which tasks are unfit, how many instances of which
 * offering it chooses and how ties are broken, the one-type baseline, and which packings it remembers. Each expected
 * plan is worked out by hand in the comments (a task's value: its cheapest price of its dominant share of an offering).
 */

describe('planner packing', () => {
  it('sets aside the groups with tasks that fit no offering, and packs the rest', () => {
    const offerings = [off('a', 2000, 4096, 100)];
    // g1 (4000 CPU) fits nothing and has 3 tasks: unfit. g2 fits nothing either but has no task: not reported.
    const packing = pack(input([group(1000, 1024), group(4000, 1024), group(4000, 2048)], [2, 3, 0], offerings));
    assert.deepEqual(packing.unfit, [1]);
    assert.deepEqual(shape(offerings, packing), ['1 x a [g0:2]']);
    assert.equal(packing.costPerHourMicros, 100);
  });

  it('plans nothing, at no cost, when no task fits', () => {
    const offerings = [off('a', 2000, 4096, 100)];
    const packing = pack(input([group(4000, 1024)], [2], offerings));
    assert.deepEqual(packing, { patterns: [], unfit: [0], costPerHourMicros: 0, work: 0 });
  });

  it('repeats an instance while enough tasks are left, then packs the rest on the best offering for it', () => {
    // Ten 1000/1024 tasks; a (2000/4096) 100, b (4000/8192) 190. Value: b's quarter, 47.5. b holds 4 (190 per 190 of
    // value), a 2 (100 per 95): b, twice (8 tasks). Two left: a holds both at 100 per 95, b at 190 per 95: a.
    // 480 in all; one type alone costs 500 (five a) or 570 (three b).
    const offerings = [off('a', 2000, 4096, 100), off('b', 4000, 8192, 190)];
    const packing = pack(input([group(1000, 1024)], [10], offerings));
    assert.deepEqual(shape(offerings, packing), ['2 x b [g0:4]', '1 x a [g0:2]']);
    assert.equal(packing.costPerHourMicros, 480);
    assert.deepEqual(packing.unfit, []);
  });

  it('breaks a tie of price per value to the cheaper offering', () => {
    // Four 1000/1024 tasks, each worth 50 on a (2000/4096, 100) and on b (4000/8192, 200): a holds 2 for 100, b 4 for
    // 200, the same price per value: a, twice.
    const offerings = [off('a', 2000, 4096, 100), off('b', 4000, 8192, 200)];
    const packing = pack(input([group(1000, 1024)], [4], offerings));
    assert.deepEqual(shape(offerings, packing), ['2 x a [g0:2]']);
    assert.equal(packing.costPerHourMicros, 200);
  });

  it('breaks a tie of price per value and of price to the offering listed first', () => {
    // Two 1000/1024 tasks; x (2000/8192) and y (4000/2048) both cost 100 and both hold the two tasks (x by CPU, y by
    // memory): x, listed first.
    const offerings = [off('x', 2000, 8192, 100), off('y', 4000, 2048, 100)];
    const packing = pack(input([group(1000, 1024)], [2], offerings));
    assert.deepEqual(shape(offerings, packing), ['1 x x [g0:2]']);
    // Listed the other way round, y.
    const swapped = [offerings[1]!, offerings[0]!];
    assert.deepEqual(shape(swapped, pack(input([group(1000, 1024)], [2], swapped))), ['1 x y [g0:2]']);
  });

  it('keeps the one-type plan when it is cheaper than its own', () => {
    // Three 1000/1024 tasks; a (2000/4096) 100, b (4000/8192) 190. The greedy takes a for two (100 per 95 of value
    // against b's 190 per 142.5), then a for the last: 200. One b holds all three: 190.
    const offerings = [off('a', 2000, 4096, 100), off('b', 4000, 8192, 190)];
    const packing = pack(input([group(1000, 1024)], [3], offerings));
    assert.deepEqual(shape(offerings, packing), ['1 x b [g0:3]']);
    assert.equal(packing.costPerHourMicros, 190);
  });

  it('chooses among more than 48 offerings the one with the least price per value', () => {
    // 60 offerings, each bigger than the one before: offering i holds i + 1 tasks of 1000/1024 and costs
    // 100 (i + 1) + 5, except o40 at 4100 (still between o39 at 4005 and o41 at 4205). Per task o40 costs 100, every
    // other more: 41 tasks go on one o40. A task of another class that only z (2000/2048 at 20, first) may run keeps
    // the one-type plan out (no offering runs both classes); it goes on z.
    const offerings = [off('z', 2000, 2048, 20)];
    for (let i = 0; i < 60; i++) offerings.push(off(`o${i}`, 1000 * (i + 1), 1024 * (i + 1), i === 40 ? 4100 : 100 * (i + 1) + 5));
    const eligibility = firstForClassOne(offerings);
    const groups = [group(1000, 1024), group(1000, 1024, { classIndex: 1 })];
    const packing = pack(input(groups, [41, 1], offerings, eligibility, 2));
    assert.deepEqual(shape(offerings, packing).sort(), ['1 x o40 [g0:41]', '1 x z [g1:1]']);
    assert.equal(packing.costPerHourMicros, 4100 + 20);
  });

  it('over more than 48 offerings, scores in full one found only by price per head task', () => {
    // Thirty 1000-millis tasks (1 MiB). Eight small offerings first (1000 to 1007 millis, 1100 to 1170: one task
    // each), then sixteen that hold two tasks but almost three (2975 to 2990 millis, 2700 to 2775), then B (3000
    // millis, 3000: three tasks, 1000 a task), then 25 dearer ones. As if the demand were fluid, the sixteen near-three
    // rank above B (2700 / 2.975 < 3000 / 3); per head task B ranks first. Ten B are the plan; the near-three would
    // cost 1350 a task. A class-1 task only Z (first, 10) may run keeps the one-type plan out.
    const offerings = [off('Z', 1000, 1024, 10)];
    for (let i = 0; i < 8; i++) offerings.push(off(`s${i}`, 1000 + i, 1024 + i, 1100 + 10 * i));
    for (let j = 0; j < 16; j++) offerings.push(off(`d${j}`, 2975 + j, 4096 + j, 2700 + 5 * j));
    offerings.push(off('B', 3000, 4200, 3000));
    for (let j = 0; j < 25; j++) offerings.push(off(`x${j}`, 3010 + j, 4300 + j, 3100 + 10 * j));
    const eligibility = firstForClassOne(offerings);
    const groups = [group(1000, 1), group(1000, 1024, { classIndex: 1 })];
    const packing = pack(input(groups, [30, 1], offerings, eligibility, 2));
    // Z's task is larger (1024 MiB): planned first.
    assert.deepEqual(shape(offerings, packing), ['1 x Z [g1:1]', '10 x B [g0:3]']);
    assert.equal(packing.costPerHourMicros, 30_010);
  });

  it('over more than 48 offerings, scores in full one found only by price per value of the demand left', () => {
    // One 2000-millis head task and 29 fillers of 1000 (1 MiB each). 24 small offerings (2000 to 2023 millis, 1500 to
    // 1523) hold the head alone: they are the cheapest and the best per head task. B (31000 millis, 20000) holds all
    // thirty: the best per value of the demand left (20000 against 1500 x 31000 / 2000 = 23250 for a small one), and
    // so it is in full: 20000 for all. 25 dearer ones follow (31100 millis and up, 30000 and up). Z as above.
    const offerings = [off('Z', 1000, 1024, 10)];
    for (let i = 0; i < 24; i++) offerings.push(off(`s${i}`, 2000 + i, 1024 + i, 1500 + i));
    offerings.push(off('B', 31_000, 4096, 20_000));
    for (let j = 0; j < 25; j++) offerings.push(off(`x${j}`, 31_100 + 100 * j, 4096 + j, 30_000 + 100 * j));
    const eligibility = firstForClassOne(offerings);
    const groups = [group(2000, 1), group(1000, 1), group(1000, 1024, { classIndex: 1 })];
    const packing = pack(input(groups, [1, 29, 1], offerings, eligibility, 2));
    assert.deepEqual(shape(offerings, packing), ['1 x B [g0:1 g1:29]', '1 x Z [g2:1]']);
    assert.equal(packing.costPerHourMicros, 20_010);
  });

  describe('remembered packings', () => {
    it('remembers plans of up to 8 groups and 64 tasks, and no larger one', () => {
      const offerings = [off('a', 2000, 4096, 100), off('b', 4000, 8192, 190)];
      const groups = (n: number): TaskGroup[] => [...Array(n).keys()].map((i) => group(100 + i, 128));
      const again = (i: PackingInput): PackingInput => ({ ...i, counts: [...(i.counts as number[])], eligibility: Uint8Array.from(i.eligibility) });
      const eight = input(groups(8), Array(8).fill(1), offerings);
      assert.equal(pack(again(eight)), pack(eight));
      const nine = input(groups(9), Array(9).fill(1), offerings);
      const first = pack(nine);
      const second = pack(again(nine));
      assert.notEqual(second, first);
      assert.deepEqual(second, first);
      const tasks64 = input([group(100, 128)], [64], offerings);
      assert.equal(pack(again(tasks64)), pack(tasks64));
      const tasks65 = input([group(100, 128)], [65], offerings);
      const p65 = pack(tasks65);
      assert.notEqual(pack(again(tasks65)), p65);
      // 65 tasks of 100 millis and 128 MiB: b holds 40 (190), a 20 (100). The greedy's b + a + a costs 390; two b
      // (40 and 25, the one-type plan) cost 380.
      assert.deepEqual(shape(offerings, p65), ['1 x b [g0:40]', '1 x b [g0:25]']);
      assert.equal(p65.costPerHourMicros, 380);
    });

    it('tells apart inputs that differ only in GPUs or only in network', () => {
      // a (2000/4096, 1000 Mbps) 100; g (one GPU) 300; n (10,000 Mbps) 150. Same offerings for all three inputs.
      const offerings = [off('a', 2000, 4096, 100, 0, 1000), off('n', 2000, 4096, 150, 0, 10_000), off('g', 2000, 4096, 300, 1, 1000)];
      const plain = pack(input([group(1000, 1024)], [2], offerings));
      assert.deepEqual(shape(offerings, plain), ['1 x a [g0:2]']);
      // 600 Mbps each: a holds one (two a: 200), n both (150).
      const net = pack(input([group(1000, 1024, { netMbps: 600 })], [2], offerings));
      assert.deepEqual(shape(offerings, net), ['1 x n [g0:2]']);
      // One GPU each: only g, one per instance.
      const gpu = pack(input([group(1000, 1024, { gpus: 1 })], [2], offerings));
      assert.deepEqual(shape(offerings, gpu), ['2 x g [g0:1]']);
    });

    it('remembers a plan per eligibility for the same groups', () => {
      // s (2000/4096) 60 and a (same) 100: with both allowed, s; with s refused, a.
      const offerings = [off('s', 2000, 4096, 60), off('a', 2000, 4096, 100)];
      const both = input([group(1000, 1024)], [2], offerings, Uint8Array.of(1, 1));
      const onlyA = input([group(1000, 1024)], [2], offerings, Uint8Array.of(0, 1));
      const p1 = pack(both);
      const p2 = pack(onlyA);
      assert.deepEqual(shape(offerings, p1), ['1 x s [g0:2]']);
      assert.deepEqual(shape(offerings, p2), ['1 x a [g0:2]']);
      assert.equal(pack(input([group(1000, 1024)], [2], offerings, Uint8Array.of(1, 1))), p1);
      assert.equal(pack(input([group(1000, 1024)], [2], offerings, Uint8Array.of(0, 1))), p2);
    });

    it('drops every remembered plan over a table once 4,096 are kept and another comes', () => {
      const offerings = [off('a', 100_000, 131_072, 100)];
      // 4,096 distinct inputs: one group of 1 to 64 tasks of 1 to 64 x 10 millis.
      const at = (i: number): PackingInput => input([group(10 * (1 + (i % 64)), 16)], [1 + Math.floor(i / 64)], offerings);
      const first = pack(at(0));
      for (let i = 1; i < 4096; i++) pack(at(i));
      // 4,096 kept: the first is still there.
      assert.equal(pack(at(0)), first);
      // The 4,097th drops them all: the first is computed again.
      pack(input([group(5, 16)], [1], offerings));
      const recomputed = pack(at(0));
      assert.notEqual(recomputed, first);
      assert.deepEqual(recomputed, first);
      // ... and remembered again.
      assert.equal(pack(at(0)), recomputed);
    });
  });

  it('in steps: a remembered plan is answered without a pause; a new one pauses after building its model', () => {
    const offerings = [off('a', 2000, 4096, 100), off('b', 4000, 8192, 190)];
    const steps = packSteps(input([group(1000, 1024)], [10], offerings));
    const firstStep = steps.next();
    assert.equal(firstStep.done, false);
    let next = steps.next();
    while (!next.done) next = steps.next();
    assert.equal(next.value.costPerHourMicros, 480);
    const again = packSteps(input([group(1000, 1024)], [10], offerings)).next();
    assert.equal(again.done, true);
    assert.equal(again.value, next.value);
  });

  it('fills what the head group leaves with a group that fits it exactly, in every dimension; items by group index', () => {
    // X (4000 / 8192 / 2 GPUs / 2000 Mbps) 1000 may run class 0; Z (1000 / 2048 / 1 / 500) 10 only class 1.
    // g1 (3000 / 6144 / 1 / 1500) heads an X; what it leaves (1000 / 2048 / 1 / 500) is exactly g0's size, and exactly
    // the smallest size of any group left (g2's, the class-1 group): g0 still goes in. g2 goes on Z. No offering runs
    // both classes, so there is no one-type plan. Split, the two X would cost 2010.
    const offerings = [off('Z', 1000, 2048, 10, 1, 500), off('X', 4000, 8192, 1000, 2, 2000)];
    const groups = [
      group(1000, 2048, { gpus: 1, netMbps: 500 }),
      group(3000, 6144, { gpus: 1, netMbps: 1500 }),
      group(1000, 2048, { gpus: 1, netMbps: 500, classIndex: 1 }),
    ];
    const packing = pack(input(groups, [1, 1, 1], offerings, Uint8Array.of(0, 1, 1, 0), 2));
    assert.deepEqual(shape(offerings, packing), ['1 x X [g0:1 g1:1]', '1 x Z [g2:1]']);
    assert.equal(packing.costPerHourMicros, 1010);
  });

  it('in steps: pauses after building its model and after every instance but the first of each greedy run', () => {
    // The ten-task plan above: each of the 7 variants' greedy chooses two instances (one pause), none re-packs a tail
    // (a single under-filled instance), and the one-type check over 2 offerings ends no slice: 1 + 7 pauses.
    const offerings = [off('a', 2000, 4096, 100), off('b', 4000, 8192, 190)];
    const steps = packSteps(input([group(1000, 1024)], [10], offerings));
    let pauses = 0;
    let next = steps.next();
    while (!next.done) {
      pauses++;
      next = steps.next();
    }
    assert.equal(pauses, 8);
    assert.equal(next.value.costPerHourMicros, 480);
  });

  describe('finds the least-cost plan (by exhaustive search) on small inputs where one part of it is needed', () => {
    /** Offerings as [CPU, memory, GPUs, price], cheapest first; groups as [CPU, memory, GPUs] with their counts. */
    function check(offs: number[][], groups: number[][], counts: number[]): ReturnType<typeof pack> {
      const offerings = offs.map(([c, m, g, p], i) => off(`o${i}`, c!, m!, p!, g!));
      const taskGroups = groups.map(([c, m, g]) => group(c!, m!, { gpus: g! }));
      const packingInput = input(taskGroups, counts, offerings);
      const packing = pack(packingInput);
      assert.equal(packing.costPerHourMicros, leastCost(packingInput));
      // The plan holds every task once, within each instance's capacity.
      const placed = new Array<number>(groups.length).fill(0);
      for (const p of packing.patterns) {
        const used = [0, 0, 0];
        for (const item of p.items) {
          placed[item.group]! += item.count * p.times;
          groups[item.group]!.forEach((x, d) => (used[d]! += x * item.count));
        }
        used.forEach((u, d) => assert.ok(u <= offs[p.offering]![d]!, `pattern within o${p.offering} in dimension ${d}`));
      }
      assert.deepEqual(placed, counts);
      assert.equal(packing.costPerHourMicros, packing.patterns.reduce((c, p) => c + offs[p.offering]![3]! * p.times, 0));
      return packing;
    }

    it('a filler kept off an instance that would be too dear a home for it (mix limit): 1140', () => {
      // Without the limit, the packer's plans cost 1300.
      check([[3000, 1024, 0, 160], [5000, 13312, 0, 330], [1000, 9216, 0, 630], [5000, 11264, 2, 980]], [[500, 512, 0], [3000, 1024, 0], [1000, 2048, 1]], [6, 1, 1]);
    });

    it('the under-filled instances re-packed together, with every variant: 1200', () => {
      // Without the re-packing, or with the current variant only, 1230.
      check([[2000, 8192, 1, 140], [8000, 9216, 0, 250], [4000, 14336, 0, 290], [6000, 1024, 0, 680]], [[500, 512, 0], [2000, 2048, 0], [1000, 8192, 0]], [3, 5, 5]);
    });

    it('only single under-filled instances re-packed, and repeats as many as every group in them allows: 4000, 2000', () => {
      // Repeated instances (times 2) in the re-packed tail would lose their copies' tasks; repeating by the group with
      // the most tasks left would pack tasks that are not there (2100 for the second).
      check([[6000, 3072, 0, 440], [1000, 3072, 0, 670], [3000, 16384, 2, 830], [5000, 14336, 0, 900]], [[2000, 2048, 0], [4000, 4096, 0], [1000, 1024, 0]], [5, 2, 5]);
      check([[2000, 7168, 0, 280], [4000, 9216, 0, 350], [7000, 12288, 0, 600], [5000, 4096, 0, 700]], [[1000, 1024, 0], [2000, 2048, 0], [1000, 8192, 0]], [2, 2, 5]);
    });

    it('instances scored by price per task (count) as well as per value: 1460 and 990', () => {
      // Scored by value only, 1560 and 1180.
      check([[2000, 3072, 0, 260], [6000, 8192, 0, 790], [1000, 15360, 0, 820], [7000, 8192, 0, 940]], [[2000, 2048, 0], [1000, 1024, 0]], [4, 3]);
      check([[4000, 9216, 0, 400], [4000, 15360, 0, 450], [5000, 13312, 0, 590], [1000, 12288, 0, 990]], [[4000, 4096, 0], [500, 512, 0]], [2, 2]);
    });
  });
});
