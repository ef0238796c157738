import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { D, PackingModel } from '../../src/autoscaler/planner-packing-model.ts';
import { pack, shortlist, smallestK } from '../../src/autoscaler/planner-packing.ts';
import type { Offering } from '../../src/core/offering.ts';
import { group, input, off, shape } from './packing-fixtures.ts';
import { leastCost } from './packing-search.ts';

/**
 * The packer's shortlist (planner-packing.ts) and its top-k helper, asked directly with hand-built inputs, and one plan
 * where the demand left is of a class above 0. Every expected set is worked out by hand in the comments (the property
 * test of `smallestK` compares with a sort, not with the helper's own insertion).
 */

const RUNS = Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100);

/** The demand left per class, as the shortlist reads it: per class D sizes and the value, in that order. */
function demand(perClass: readonly (readonly [number, number, number])[]): Float64Array {
  const result = new Float64Array(perClass.length * (D + 1));
  perClass.forEach(([cpu, memory, value], c) => {
    result[c * (D + 1)] = cpu;
    result[c * (D + 1) + 1] = memory;
    result[c * (D + 1) + D] = value;
  });
  return result;
}

/** The shortlist for head group `h`, as a sorted list of offering indexes. */
function listed(offerings: Offering[], groups: Parameters<typeof input>[0], counts: number[], h: number, classDemand: Float64Array, eligibility?: Uint8Array, classCount = 1): number[] {
  const model = new PackingModel(input(groups, counts, offerings, eligibility, classCount));
  return Array.from(shortlist(model, h, Int32Array.from(counts), classDemand)).sort((a, b) => a - b);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('planner packing: the shortlist, asked directly', () => {
  describe('smallestK', () => {
    it('gives the indexes of the k smallest scores, ties to the lower index', () => {
      const top = (scores: number[], k: number): number[] => smallestK(Float64Array.from(scores), k).sort((a, b) => a - b);
      assert.deepEqual(top([5, 3, 3, 3], 2), [1, 2]);
      assert.deepEqual(top([3, 3, 1], 2), [0, 2]);
      assert.deepEqual(top([1, 1, 1, 1], 3), [0, 1, 2]);
      assert.deepEqual(top([2, 1, 2, 0, 2], 3), [0, 1, 3]);
      assert.deepEqual(top([4, 4, 2, 4, 1], 2), [2, 4]);
      assert.deepEqual(top([9, 8, 7, 6, 5], 1), [4]);
      // Fewer scores than k: every index.
      assert.deepEqual(top([2, 1], 4), [0, 1]);
    });

    it('agrees with sorting by (score, index) on small scores with many ties', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), (scores, k) => {
          const expected = scores
            .map((s, i) => [s, i] as const)
            .sort((a, b) => a[0] - b[0] || a[1] - b[1])
            .slice(0, k)
            .map(([, i]) => i)
            .sort((a, b) => a - b);
          const found = smallestK(Float64Array.from(scores), k).sort((a, b) => a - b);
          assert.deepEqual(found, expected);
        }),
        { numRuns: RUNS, seed: 14_238 },
      );
    });
  });

  it('scores every offering when the head fits exactly 48 kept ones', () => {
    // 48 offerings, each dearer and bigger than the one before (so none is dominated), every one fitting the head;
    // one head task, so by price per head task and as if fluid they rank cheapest first: a shortlist would be the
    // first 16. With 48 kept, all 48 are scored; with 49, the shortlist is taken.
    const offerings = range(0, 49).map((i) => off(`o${i}`, 1000 + i, 1024 + i, 100 + i));
    const groups = [group(1000, 1)];
    const classDemand = demand([[1000, 1, 1]]);
    assert.deepEqual(listed(offerings.slice(0, 48), groups, [1], 0, classDemand), range(0, 48));
    assert.deepEqual(listed(offerings, groups, [1], 0, classDemand), range(0, 16));
  });

  it('scores the eight cheapest, and only eight, whatever their estimates', () => {
    // 100 head tasks of 1000 millis. Nine small offerings (1000 millis, one task, 100 to 108) and 40 big ones
    // (10,000 millis, ten tasks, 200 to 239). Per head task a small one costs 100 or more, a big one 20 to 24; as if
    // fluid (demand 100,000 millis, so each holds its capacity's share of it) the same. So both estimates pick the
    // first sixteen big ones (9 to 24), and the cheapest eight (0 to 7) are added; the ninth small one (8) is not.
    const offerings = [
      ...range(0, 9).map((i) => off(`s${i}`, 1000, 1024 + i, 100 + i)),
      ...range(9, 49).map((i) => off(`b${i}`, 10_000, 1024 + i, 200 + i)),
    ];
    const list = listed(offerings, [group(1000, 1)], [100], 0, demand([[100_000, 100, 1]]));
    assert.deepEqual(list, [...range(0, 8), ...range(9, 25)]);
  });

  it('values the demand left of each class an offering may run', () => {
    // Two classes with the same demand left (1000 millis, 1 MiB, value 1 each). 49 offerings, each dearer and
    // bigger than the one before, all holding the whole demand (share 1): as if fluid, an offering's score is its price
    // over the value of the demand it may run. 0 to 15 (100 to 115) and 32 to 48 (140 to 156) may run class 0 only:
    // price / 1; 16 to 31 (120 to 135) may run both: price / 2, 60 to 67.5, the best sixteen. One head task (class 0):
    // by price per head task the cheapest sixteen, 0 to 15. So the shortlist is 0 to 31. Were the class-1 value not
    // counted (or counted against), the best as if fluid would be 0 to 15 too, and 16 to 31 left out.
    const offerings = range(0, 49).map((i) => off(`o${i}`, 2000 + i, 1024 + i, i < 16 ? 100 + i : i < 32 ? 104 + i : 108 + i));
    const O = offerings.length;
    const eligibility = new Uint8Array(2 * O).fill(1, 0, O);
    for (let o = 16; o < 32; o++) eligibility[O + o] = 1;
    const groups = [group(1000, 1), group(1000, 1, { classIndex: 1 })];
    const list = listed(offerings, groups, [1, 1], 0, demand([[1000, 1, 1], [1000, 1, 1]]), eligibility, 2);
    assert.deepEqual(list, range(0, 32));
  });

  it('finds by the demand left of class 1 the offering that holds it all', () => {
    // planner-packing-shortlist.test.ts's first case, with the classes swapped: the head (2000 millis) and 29 fillers
    // (1000 millis) are of class 1, which may run every offering but Z; Z (first, 10) is the only one the class-0 task
    // may run. 24 small offerings (2000 to 2023 millis, 1500 to 1523) hold the head alone; B (31,000 millis, 20,000)
    // holds all thirty; 25 dearer ones of 31,100 millis and more (30,000 and up) follow. One head task: by price per
    // head task the cheapest sixteen (small ones); as if fluid (31,000 millis of class-1 demand left) B costs 20,000
    // for all of it, a small one 23,250 for as much, a dearer big one 30,000: B is scored and holds all thirty for
    // 20,000, less than the head alone on a small one (1500) and the fillers on B or fifteen small ones. Unscored, B
    // would still take the 29 fillers once the head is placed on a small one: 21,500 for class 1.
    const offerings = [off('Z', 1000, 4096, 10)];
    for (let i = 0; i < 24; i++) offerings.push(off(`s${i}`, 2000 + i, 1024 + i, 1500 + i));
    offerings.push(off('B', 31_000, 4096, 20_000));
    for (let j = 0; j < 25; j++) offerings.push(off(`x${j}`, 31_100 + 100 * j, 4096 + j, 30_000 + 100 * j));
    const O = offerings.length;
    const eligibility = new Uint8Array(2 * O);
    eligibility[0] = 1;
    eligibility.fill(1, O + 1, 2 * O);
    const groups = [group(2000, 1, { classIndex: 1 }), group(1000, 1, { classIndex: 1 }), group(1000, 1024)];
    const packing = pack(input(groups, [1, 29, 1], offerings, eligibility, 2));
    assert.deepEqual(shape(offerings, packing).sort(), ['1 x B [g0:1 g1:29]', '1 x Z [g2:1]']);
    assert.equal(packing.costPerHourMicros, 20_010);
  });

  it('values the demand left of a class by its tasks\' values, so an offering that may run a costly class ranks first', () => {
    // Three classes. H (class 0, 1000 millis, the higher priority, so every order plans it first) and T (class 1,
    // 18,000 millis); a class-2 task only Z (first, 10) may run keeps the one-type plan out. Q0 to Q15 (2001 to 2016
    // millis, 100 to 115) may run class 0 only and hold H: H's value is about 50 (Q0's price for half of it). P0 to P15
    // (20,017 millis and up, 2000 to 2015) may run classes 0 and 1 and hold H and T together: T's value is about 1800
    // (P0's price for nine tenths of it). Seventeen dearer ones of class 0 follow (2100 and up, bigger still). One H:
    // by price per head task Q0 to Q15 rank first. As if fluid every offering holds all the demand it may run (share
    // 1), so its score is its price over that demand's value: a Q 100 / 50 = 2 and more, a P 2000 / 1850 = 1.08 and
    // up: P0 to P15 are scored, and P0 with H and T (2000 for 1850) beats H alone on Q0 (100 for 50). Valued by
    // anything but their tasks' values (n x weight), the classes would weigh alike and the Q's rank first, and H alone
    // on Q0 and T on P0 would cost 2100. The least cost is the test's own search's too.
    const offerings = [off('Z', 1000, 1024, 10)];
    for (let k = 0; k < 16; k++) offerings.push(off(`Q${k}`, 2001 + k, 1024 + offerings.length, 100 + k));
    for (let k = 0; k < 16; k++) offerings.push(off(`P${k}`, 20_017 + k, 1024 + offerings.length, 2000 + k));
    for (let k = 0; k < 17; k++) offerings.push(off(`R${k}`, 20_100 + k, 1024 + offerings.length, 2100 + k));
    const O = offerings.length;
    const eligibility = new Uint8Array(3 * O);
    eligibility.fill(1, 1, O);
    eligibility.fill(1, O + 17, O + 33);
    eligibility[2 * O] = 1;
    const groups = [group(1000, 1, { priority: 1 }), group(18_000, 1, { classIndex: 1 }), group(1000, 1, { classIndex: 2 })];
    const inp = input(groups, [1, 1, 1], offerings, eligibility, 3);
    const packing = pack(inp);
    assert.deepEqual(shape(offerings, packing).sort(), ['1 x P0 [g0:1 g1:1]', '1 x Z [g2:1]']);
    assert.equal(packing.costPerHourMicros, 2010);
    assert.equal(leastCost(inp), 2010);
  });

  it('counts the demand left after each instance, repeats included', () => {
    // P (4 tasks of 4000 millis, 4000 MiB and a GPU, the highest priority) goes first: only G (8000, 8000, 2 GPUs,
    // 10,000) has GPUs, so two G of two P each (once, repeated twice). Then H (4000 millis, 1000 MiB, priority 1) is
    // the head and F (1000, 4000) a filler; a class-1 task only Z (first, 10) may run keeps the one-type plan out. S0
    // (400) holds H exactly and M (399) F exactly (their values: 400 and 399), S1 to S15 (401 to 415) a little more
    // than H, W (600, 5000 millis, 5000 MiB) holds H and F exactly, and 32 dearer ones (900 and up, 5001 and up of
    // each) hold both too. With P all placed, the demand left is H and F: as if fluid W holds all of it for 600, an S
    // a fifth of it for 400 or more, the rest cost 900 or more for all of it, so W is scored and holds both for 600,
    // less than S0 and M (799). Were P's GPUs still counted as left, every offering without GPUs would hold none of
    // that demand (no share, an infinite score), the sixteen by that estimate would be G and the first S's, W would
    // not be scored, and H alone on S0 and F on M would cost 799. Nothing holds H and F for less than W, and the P's
    // need two G: the least is 20,610 (and the test's own search finds it).
    const offerings = [off('Z', 1000, 1024, 10), off('M', 1000, 4000, 399)];
    for (let k = 0; k < 16; k++) offerings.push(off(`S${k}`, 4000 + k, 1000 + k, 400 + k));
    offerings.push(off('W', 5000, 5000, 600));
    for (let k = 0; k < 32; k++) offerings.push(off(`R${k}`, 5001 + k, 5001 + k, 900 + k));
    offerings.push(off('G', 8000, 8000, 10_000, 2));
    const O = offerings.length;
    const eligibility = new Uint8Array(2 * O).fill(1, 1, O);
    eligibility[O] = 1;
    const groups = [
      group(4000, 4000, { gpus: 1, priority: 2 }),
      group(4000, 1000, { priority: 1 }),
      group(1000, 4000),
      group(1000, 1024, { classIndex: 1 }),
    ];
    const inp = input(groups, [4, 1, 1, 1], offerings, eligibility, 2);
    const packing = pack(inp);
    assert.deepEqual(shape(offerings, packing).sort(), ['1 x W [g1:1 g2:1]', '1 x Z [g3:1]', '2 x G [g0:2]']);
    assert.equal(packing.costPerHourMicros, 20_610);
    assert.equal(leastCost(inp), 20_610);
  });

  it('keeps an instance on the offering chosen when another of the same price, listed first, would hold it too', () => {
    // H (1000 millis, 1000 MiB, the higher priority with F, so every order plans it first) and two F (1000, 500) fit
    // E (3001 millis, 2000 MiB) and L (3000, 2001) exactly, both 1000, E listed first. X (1 millis, 1,000,000 MiB)
    // fits only BIG (4000, 1,000,000, 600,000), and holds nothing else beside it. Sixteen small ones (1000 millis and
    // MiB, 600 to 615) hold H alone, fifteen D (1100 to 1114, 3000 millis, 2002 MiB and up) hold H and both F, and fifteen
    // R (2000 to 2014, 3000 millis, 100,000 MiB and up) too: 49 offerings H fits, so only a shortlist is scored. One H:
    // by price per head task the sixteen small ones. As if fluid, memory limits every share (X's MiB are left): the
    // score is the price per MiB, so the R's (0.02) and then L (1000 / 2001) are the best sixteen, and E (1000 / 2000)
    // the seventeenth. So E is never scored, L holds H and both F for 1000 (the small ones 600 for H alone), and X goes
    // on BIG: 601,000, the least (the test's own search), with L, not E: an instance moves only to a cheaper offering.
    const offerings: Offering[] = [];
    for (let k = 0; k < 16; k++) offerings.push(off(`C${k}`, 1000 + k, 1000 + k, 600 + k));
    offerings.push(off('E', 3001, 2000, 1000), off('L', 3000, 2001, 1000));
    for (let k = 0; k < 15; k++) offerings.push(off(`D${k}`, 3000 + k, 2002 + k, 1100 + k));
    for (let k = 0; k < 15; k++) offerings.push(off(`R${k}`, 3000 + k, 100_000 + k, 2000 + k));
    offerings.push(off('BIG', 4000, 1_000_000, 600_000));
    const groups = [group(1000, 1000, { priority: 1 }), group(1000, 500, { priority: 1 }), group(1, 1_000_000)];
    const inp = input(groups, [1, 2, 1], offerings);
    const packing = pack(inp);
    assert.deepEqual(shape(offerings, packing).sort(), ['1 x BIG [g2:1]', '1 x L [g0:1 g1:2]']);
    assert.equal(packing.costPerHourMicros, 601_000);
    assert.equal(leastCost(inp), 601_000);
  });

  it('lets a filler whose home on the instance costs exactly the mix limit (twice its value) in', () => {
    // H (class 2, 1000 millis, the higher priority) may run only on W (2000 millis, 200): its value is 100. X (class 0)
    // and Y (class 1), 1000 millis each, may run on W or on their own offering, XH (40) and YH (50): their values are
    // 40 and 50, and half of W (100) costs X 2.5 times its value and Y exactly twice. W holds H and one more. With no
    // mix limit, X (the earlier group) fills W and Y goes on YH: 250. Under the mix limit of 2, X is left out of W and
    // Y, at exactly the limit, is let in: W with H and Y, X on XH: 240, the least (the test's own search). Were Y left
    // out too, H would be alone on W and X and Y on their own: 290, and the plan without the limit would be kept.
    const offerings = [off('XH', 1000, 1024, 40), off('YH', 1000, 1024, 50), off('W', 2000, 1024, 200)];
    const eligibility = Uint8Array.from([1, 0, 1, 0, 1, 1, 0, 0, 1]);
    const groups = [group(1000, 1, { classIndex: 2, priority: 1 }), group(1000, 1), group(1000, 1, { classIndex: 1 })];
    const inp = input(groups, [1, 1, 1], offerings, eligibility, 3);
    const packing = pack(inp);
    assert.deepEqual(shape(offerings, packing).sort(), ['1 x W [g0:1 g2:1]', '1 x XH [g1:1]']);
    assert.equal(packing.costPerHourMicros, 240);
    assert.equal(leastCost(inp), 240);
  });
});
