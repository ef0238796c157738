import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { PackingModel } from '../../src/autoscaler/planner-packing-model.ts';
import type { PackingInput } from '../../src/autoscaler/planner-packing-types.ts';
import { group, off } from './packing-fixtures.ts';

/**
 * The packing model (planner-packing-model.ts) on small hand-worked inputs: which offerings each group fits and keeps
 * (the undominated ones), each group's value, the group orders, the fit lists and home ratios, and its arithmetic.
 * Every expected value below is worked out by hand from the offerings and groups in the comments.
 */

/**
 * Five offerings, cheapest first (CPU millis / memory MiB / GPUs / network, price):
 *   0 a  2000 /  4096 / 0 / 0  @100
 *   1 e  2000 /  4096 / 0 / 0  @150   dominated by a (as big, cheaper, eligible for the same classes)
 *   2 b  4000 /  8192 / 0 / 0  @190
 *   3 c  2000 / 16384 / 0 / 0  @210
 *   4 d  8000 / 16384 / 1 / 0  @500
 * Class 0 may run on all five, class 1 only on b and d.
 */
const OFFERINGS = [
  off('a', 2000, 4096, 100),
  off('e', 2000, 4096, 150),
  off('b', 4000, 8192, 190),
  off('c', 2000, 16384, 210),
  off('d', 8000, 16384, 500, 1),
];
const ELIGIBILITY = Uint8Array.of(1, 1, 1, 1, 1, /* class 1 */ 0, 0, 1, 0, 1);

/**
 * Eight groups of one task each:
 *   g0 class 0, priority 0: 1000 / 1024        fits a e b c d
 *   g1 class 0, priority 1: 1000 / 1024        (the only priority-1 group)
 *   g2 class 1, priority 0: 4000 / 2048 / 1 GPU   fits d only
 *   g3 class 0, priority 0: 1000 / 8192        fits b c d
 *   g4 class 0, priority 0: 2000 / 1024        fits a e b c d
 *   g5 class 1, priority 0: 1000 / 1024        fits b d (its class)
 *   g6 class 0, priority 0: 1000 / 1024        as g0
 *   g7 class 0, priority 0: 1000 / 1024 / 1 GPU   fits d only
 */
const GROUPS = [
  group(1000, 1024),
  group(1000, 1024, { priority: 1 }),
  group(4000, 2048, { classIndex: 1, gpus: 1 }),
  group(1000, 8192),
  group(2000, 1024),
  group(1000, 1024, { classIndex: 1 }),
  group(1000, 1024),
  group(1000, 1024, { gpus: 1 }),
];

function model(over: Partial<PackingInput> = {}): PackingModel {
  return new PackingModel({
    groups: GROUPS,
    counts: GROUPS.map(() => 1),
    offerings: OFFERINGS,
    eligibility: ELIGIBILITY,
    classCount: 2,
    ...over,
  });
}

describe('planner packing model', () => {
  it('marks where each group may run and fits alone, dominated offerings included', () => {
    const m = model();
    assert.equal(m.G, 8);
    assert.equal(m.O, 5);
    const rows = [...Array(8).keys()].map((g) => [...m.fit.subarray(g * 5, g * 5 + 5)]);
    assert.deepEqual(rows, [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1],
      [0, 0, 0, 0, 1],
      [0, 0, 1, 1, 1],
      [1, 1, 1, 1, 1],
      [0, 0, 1, 0, 1],
      [1, 1, 1, 1, 1],
      [0, 0, 0, 0, 1],
    ]);
    assert.deepEqual([...m.groupClass], [0, 0, 1, 0, 0, 1, 0, 0]);
    assert.deepEqual([...m.size.subarray(2 * 4, 3 * 4)], [4000, 2048, 1, 0]);
  });

  it('keeps per group the undominated offerings it fits, cheapest first: e is as big as a and dearer', () => {
    const m = model();
    assert.deepEqual(
      m.fitKept.map((k) => [...k]),
      [[0, 2, 3, 4], [0, 2, 3, 4], [4], [2, 3, 4], [0, 2, 3, 4], [2, 4], [0, 2, 3, 4], [4]],
    );
  });

  it('values each task at its cheapest dominant share of a kept offering', () => {
    // g0 (1000/1024): a 100 x 1/2 = 50, b 190 x 1/4 = 47.5, c 210 x 1/2 = 105, d 500 x 1/8 = 62.5: 47.5.
    // g2: d, the whole GPU: 500. g3 (1000/8192): b 190 x 1, c 210 x 1/2 = 105, d 500 x 1/2: 105.
    // g4 (2000/1024): a 100, b 190 x 1/2 = 95, c 210, d 500 x 1/4 = 125: 95. g5 (b, d): 47.5. g7: d's GPU: 500.
    assert.deepEqual([...model().weight], [47.5, 47.5, 500, 105, 95, 47.5, 47.5, 500]);
  });

  it('gives a task that takes nothing, and one that fits nowhere, a billionth of the cheapest price as its value', () => {
    const m = model({
      groups: [group(0, 0), group(100_000, 1024), group(1000, 1024)],
      counts: [1, 1, 1],
    });
    // The cheapest offering is a at 100, whether or not it is kept.
    assert.equal(m.weight[0], 100 * 1e-9);
    assert.equal(m.weight[1], 100 * 1e-9);
    assert.equal(m.weight[2], 47.5);
    assert.deepEqual([...m.fitKept[1]!], []);
    // A task that takes nothing fits every offering its class may run on.
    assert.deepEqual([...m.fit.subarray(0, 5)], [1, 1, 1, 1, 1]);
    assert.equal(m.dominantShare(0, 0), 0);
  });

  it('orders groups by priority, then by the order key, then fewer kept offerings, then index', () => {
    const m = model();
    // size: g1 (priority 1); packing sizes g2 20.5, g7 17.25, g3 3, g4 2.25; g0, g5, g6 at 1.25: g5 has 2 kept
    // offerings, g0 and g6 four (then by index).
    assert.deepEqual(m.order('size'), [1, 2, 7, 3, 4, 5, 0, 6]);
    // gpu: GPUs first (g2 with more CPU before g7), then CPU (g4), then memory (g3), then the ties.
    assert.deepEqual(m.order('gpu'), [1, 2, 7, 4, 3, 5, 0, 6]);
    // memory: g3 (8192), g2 (2048), then at 1024 CPU first (g4), then GPUs (g7), then the ties.
    assert.deepEqual(m.order('memory'), [1, 3, 2, 4, 7, 5, 0, 6]);
    // Computed once per order.
    assert.equal(m.order('gpu'), m.order('gpu'));
  });

  it('orders lower priorities after higher ones whatever their size', () => {
    const m = model({
      groups: [group(4000, 8192), group(1000, 1024, { priority: 2 }), group(2000, 1024, { priority: 1 })],
      counts: [1, 1, 1],
    });
    for (const order of ['size', 'gpu', 'memory'] as const) assert.deepEqual(m.order(order), [1, 2, 0]);
  });

  it('lists the groups that fit an offering in the given order, once per order and offering', () => {
    const m = model();
    // a and e hold the class-0 tasks of at most 2000 / 4096 without GPUs: g0, g1, g4, g6.
    assert.deepEqual([...m.fitList('size', 0)], [1, 4, 0, 6]);
    assert.deepEqual([...m.fitList('size', 1)], [1, 4, 0, 6]);
    // b: every group without a GPU (g5's class may run there).
    assert.deepEqual([...m.fitList('size', 2)], [1, 3, 4, 5, 0, 6]);
    assert.deepEqual([...m.fitList('gpu', 4)], [1, 2, 7, 4, 3, 5, 0, 6]);
    assert.deepEqual([...m.fitList('memory', 4)], [1, 3, 2, 4, 7, 5, 0, 6]);
    assert.equal(m.fitList('size', 2), m.fitList('size', 2));
    assert.notEqual(m.fitList('size', 2), m.fitList('size', 3));
  });

  it("gives each listed group's cost on the offering over its value, in fit-list order", () => {
    const m = model();
    // b (190): g1 190/4 / 47.5 = 1, g3 190 x 1 / 105, g4 190/2 / 95 = 1, g5, g0, g6: 1.
    const onB = [...m.homeRatio('size', 2)];
    assert.deepEqual(onB.map((r) => Math.round(r * 1e6) / 1e6), [1, Math.round((190 / 105) * 1e6) / 1e6, 1, 1, 1, 1]);
    // c (210): fit list g1, g3, g4, g0, g6: 105 / 47.5, 105 / 105, 210 / 95, 105 / 47.5, 105 / 47.5.
    const onC = [...m.homeRatio('size', 3)];
    const want = [105 / 47.5, 1, 210 / 95, 105 / 47.5, 105 / 47.5];
    assert.equal(onC.length, want.length);
    onC.forEach((r, k) => assert.ok(Math.abs(r - want[k]!) < 1e-9, `${k}: ${r} vs ${want[k]}`));
    assert.equal(m.homeRatio('size', 2), m.homeRatio('size', 2));
    // Per order: the gpu order lists the same groups on c in another order (g1, g4, g3, g0, g6).
    const gpuOnC = [...m.homeRatio('gpu', 3)];
    const wantGpu = [105 / 47.5, 210 / 95, 1, 105 / 47.5, 105 / 47.5];
    gpuOnC.forEach((r, k) => assert.ok(Math.abs(r - wantGpu[k]!) < 1e-9, `gpu ${k}: ${r} vs ${wantGpu[k]}`));
  });

  it('counts copies that fit free capacity, at an offset, and Infinity for a task that takes nothing', () => {
    const m = model({ groups: [...GROUPS, group(0, 0)], counts: [...GROUPS.map(() => 1), 1] });
    // g0 (1000/1024) in 3000/5000: 3 by CPU, 4 by memory.
    assert.equal(m.copies(0, [3000, 5000, 0, 0]), 3);
    assert.equal(m.copies(0, Float64Array.of(9, 9, 3000, 5000, 0, 0), 2), 3);
    // g3 (1000/8192) in 8000/16384: 2 by memory.
    assert.equal(m.copies(3, [8000, 16384, 0, 0]), 2);
    // g2 needs a GPU: none free.
    assert.equal(m.copies(2, [8000, 16384, 0, 0]), 0);
    assert.equal(m.copies(8, [0, 0, 0, 0]), Infinity);
  });

  it('prices patterns, values their contents and takes the largest share of any dimension', () => {
    const m = model();
    assert.equal(
      m.cost([
        { offering: 2, items: [{ group: 0, count: 1 }], times: 3 },
        { offering: 0, items: [{ group: 0, count: 1 }], times: 1 },
      ]),
      190 * 3 + 100,
    );
    assert.equal(m.cost([]), 0);
    assert.equal(m.value({ offering: 2, items: [{ group: 3, count: 2 }, { group: 0, count: 1 }], times: 5 }), 2 * 105 + 47.5);
    assert.equal(m.dominantShare(3, 2), 1);
    assert.equal(m.dominantShare(4, 2), 0.5);
    assert.equal(m.dominantShare(2, 4), 1);
    assert.equal(m.dominantShare(0, 4), 0.125);
  });

  it('reuses its scratch buffers, growing them when asked for more', () => {
    const m = model();
    const a = m.scratch(0, 5);
    assert.equal(a.length, 5);
    a[0] = 7;
    assert.equal(m.scratch(0, 5)[0], 7);
    const shorter = m.scratch(0, 3);
    assert.equal(shorter.length, 3);
    assert.equal(shorter[0], 7);
    assert.equal(m.scratch(1, 5)[0], 0);
    const grown = m.scratch(0, 8);
    assert.equal(grown.length, 8);
    grown[1] = 3;
    assert.equal(m.scratch(0, 8)[1], 3);
  });

  it('keeps only offerings some group with tasks fits', () => {
    // p (2000/4096 @100) may run class 0, q (4000/8192 @200) class 1 only. The class-1 group has no task to pack, so q
    // is kept for nobody, though the group fits it.
    const m = new PackingModel({
      groups: [group(1000, 1024), group(1000, 1024, { classIndex: 1 })],
      counts: [1, 0],
      offerings: [off('p', 2000, 4096, 100), off('q', 4000, 8192, 200)],
      eligibility: Uint8Array.of(1, 0, 0, 1),
      classCount: 2,
    });
    assert.deepEqual([...m.fitKept[0]!], [0]);
    assert.deepEqual([...m.fitKept[1]!], []);
    assert.equal(m.fit[1 * 2 + 1], 1);
    // With a task to pack, q is kept for it.
    const live = new PackingModel({
      groups: [group(1000, 1024), group(1000, 1024, { classIndex: 1 })],
      counts: [1, 1],
      offerings: [off('p', 2000, 4096, 100), off('q', 4000, 8192, 200)],
      eligibility: Uint8Array.of(1, 0, 0, 1),
      classCount: 2,
    });
    assert.deepEqual([...live.fitKept[1]!], [1]);
  });

  it('compares only the dimensions some task with a count needs', () => {
    const offerings = [off('n0', 2000, 4096, 100), off('n1', 2000, 4096, 120, 0, 1000)];
    const one = Uint8Array.of(1, 1);
    const noNet = group(1000, 1024);
    const net = group(1000, 1024, { netMbps: 100 });
    // No task needs network: n1 is as big as n0 where it matters, and dearer.
    const without = new PackingModel({ groups: [noNet, net], counts: [1, 0], offerings, eligibility: one, classCount: 1 });
    assert.deepEqual([...without.fitKept[0]!], [0]);
    // A task with a count needs network: n1 has more of it, so n0 does not dominate n1.
    const withNet = new PackingModel({ groups: [noNet, net], counts: [1, 1], offerings, eligibility: one, classCount: 1 });
    assert.deepEqual([...withNet.fitKept[0]!], [0, 1]);
    assert.deepEqual([...withNet.fitKept[1]!], [1]);
  });

  it('drops an offering as dear as an earlier one that is at least as big in every needed dimension', () => {
    const offerings = [off('p', 2000, 4096, 100), off('q', 2000, 4096, 100), off('r', 1000, 4096, 100)];
    const m = new PackingModel({
      groups: [group(500, 512)],
      counts: [1],
      offerings,
      eligibility: Uint8Array.of(1, 1, 1),
      classCount: 1,
    });
    assert.deepEqual([...m.fitKept[0]!], [0]);
    // Bigger in one dimension only: a dearer offering with more memory is kept.
    const m2 = new PackingModel({
      groups: [group(500, 512)],
      counts: [1],
      offerings: [off('p', 2000, 4096, 100), off('s', 1000, 8192, 150), off('t', 4000, 2048, 160)],
      eligibility: Uint8Array.of(1, 1, 1),
      classCount: 1,
    });
    assert.deepEqual([...m2.fitKept[0]!], [0, 1, 2]);
  });

  it('keeps an offering that runs a class the cheaper one may not, over more than 32 classes', () => {
    // 33 groups, one per class, each 500 / 512. X (4000/8192 @100) may run classes 0 to 31; Y (2000/4096 @200)
    // every class; Z (2000/4096 @300) class 0 only. Z is dominated by X; Y is not (class 32, the 33rd bit).
    const groups = [...Array(33).keys()].map((c) => group(500, 512, { classIndex: c }));
    const offerings = [off('X', 4000, 8192, 100), off('Y', 2000, 4096, 200), off('Z', 2000, 4096, 300)];
    const eligibility = new Uint8Array(33 * 3);
    for (let c = 0; c < 33; c++) {
      eligibility[c * 3] = c < 32 ? 1 : 0;
      eligibility[c * 3 + 1] = 1;
      eligibility[c * 3 + 2] = c === 0 ? 1 : 0;
    }
    const m = new PackingModel({ groups, counts: groups.map(() => 1), offerings, eligibility, classCount: 33 });
    assert.deepEqual([...m.fitKept[0]!], [0, 1]);
    assert.deepEqual([...m.fitKept[31]!], [0, 1]);
    assert.deepEqual([...m.fitKept[32]!], [1]);
    // Class 5 instead of 32 left off X: Y is kept for it, and Z still dominated.
    const e2 = Uint8Array.from(eligibility);
    e2[32 * 3] = 1;
    e2[5 * 3] = 0;
    const m2 = new PackingModel({ groups, counts: groups.map(() => 1), offerings, eligibility: e2, classCount: 33 });
    assert.deepEqual([...m2.fitKept[5]!], [1]);
    assert.deepEqual([...m2.fitKept[0]!], [0, 1]);
    assert.deepEqual([...m2.fitKept[32]!], [0, 1]);
  });
});
