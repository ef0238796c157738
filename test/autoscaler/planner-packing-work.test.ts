import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { pack, PACKING_BUDGET, type PackingBudget } from '../../src/autoscaler/planner-packing.ts';
import { group, input, off, shape } from './packing-fixtures.ts';

/**
 * The packer's work (Packing.work) and the budget it bounds (planner-packing.ts). Each fill of a candidate instance
 * adds how far it moved along the offering's list of groups, from the first group with tasks left: to the list's end,
 * or to the group after which some dimension has less room than the smallest group left needs (that group not
 * counted). A greedy run fills each shortlisted candidate once to score it and the winner once more for its contents;
 * seven variants run while the work is under the budget's `work`; a variant whose under-filled single instances (value
 * under 97% of the price) number two or more re-packs them with every variant while the work is under `smallPlan`,
 * else with its own. The expected figures are worked out by hand in the comments. Every plan here has one offering,
 * so the shortlist is that offering, and groups of different priorities, so every order takes them alike.
 *
 * Each call passes a budget equal to the default but not the default object: remembered plans are the default's, so
 * these plans are computed afresh (a plan remembered before a mutant was switched on would hide it).
 */
const BUDGET: PackingBudget = { ...PACKING_BUDGET };
const VARIANTS = 7;

/** 4 CPUs, 8 GiB, $100: the one offering of most cases. */
const A = off('a', 4000, 8192, 100);

describe('planner packing: the work it counts and the budget that bounds it', () => {
  it('counts a fill that reaches the end of the list, and not one that stops where nothing more fits, per dimension', () => {
    // One group, one instance per variant: its two fills add 1 each when room is left in every dimension for another
    // task of the group (the list's end), 0 when some dimension is exhausted after it. Improve has nothing to re-pack
    // (one under-filled instance).
    const gpuOffering = off('g', 8000, 16384, 300, 2);
    const netOffering = off('n', 4000, 8192, 100, 0, 1000);
    const cases = [
      { name: 'CPU left exactly one task', offering: A, g: group(1000, 1024), count: 3, perFill: 1 },
      { name: 'CPU used up', offering: A, g: group(1000, 1024), count: 4, perFill: 0 },
      { name: 'memory left exactly one task', offering: A, g: group(500, 2048), count: 3, perFill: 1 },
      { name: 'memory used up', offering: A, g: group(500, 2048), count: 4, perFill: 0 },
      { name: 'a GPU left', offering: gpuOffering, g: group(1000, 1024, { gpus: 1 }), count: 1, perFill: 1 },
      { name: 'GPUs used up', offering: gpuOffering, g: group(1000, 1024, { gpus: 1 }), count: 2, perFill: 0 },
      {
        name: 'bandwidth left exactly one task',
        offering: netOffering,
        g: group(500, 512, { netMbps: 500 }),
        count: 1,
        perFill: 1,
      },
      { name: 'bandwidth used up', offering: netOffering, g: group(500, 512, { netMbps: 500 }), count: 2, perFill: 0 },
    ];
    for (const c of cases) {
      const packing = pack(input([c.g], [c.count], [c.offering]), BUDGET);
      assert.deepEqual(shape([c.offering], packing), [`1 x ${c.offering.instanceType} [g0:${c.count}]`], c.name);
      assert.equal(packing.work, VARIANTS * 2 * c.perFill, c.name);
    }
  });

  it('fills past a group while the room left holds the smallest group left, and counts the groups it moved past', () => {
    // CPU: g0 (3000, first by priority) leaves 1000, which holds g1 (1000), the smallest: g1 goes in too and leaves
    // nothing, so each fill stops after g1, one group past g0 (work 1). One instance, full ($100 of value): no tail.
    const cpu = pack(input([group(3000, 1024, { priority: 1 }), group(1000, 1024)], [1, 1], [A]), BUDGET);
    assert.deepEqual(shape([A], cpu), ['1 x a [g0:1 g1:1]']);
    assert.equal(cpu.work, VARIANTS * 2 * 1);
    // Memory, the same: g0 (6 GiB) leaves 2 GiB, which holds g1 (2 GiB).
    const memory = pack(input([group(500, 6144, { priority: 1 }), group(500, 2048)], [1, 1], [A]), BUDGET);
    assert.deepEqual(shape([A], memory), ['1 x a [g0:1 g1:1]']);
    assert.equal(memory.work, VARIANTS * 2 * 1);
  });

  /**
   * g0 (3000 CPU, first by priority) and g1 (2000 CPU) on a: g0 leaves 1000, under g1's 2000, so the first instance
   * stops after g0 (0); the second starts its list past g0 (used up), at g1, and reaches the list's end with 2000 left
   * (1 per fill). A greedy run: 0 + 0 + 1 + 1 = 2. Both instances are under-filled single ones ($75 and $50 of value
   * for $100 each), and re-packing them together finds the same two: each re-pack is another greedy run of 2.
   */
  const TAIL = input([group(3000, 1024, { priority: 1 }), group(2000, 1024)], [1, 1], [A]);

  it('re-packs a tail with every variant while the work is under the small-plan budget, else with its own', () => {
    const everyVariant = pack(TAIL, BUDGET);
    assert.deepEqual(shape([A], everyVariant), ['1 x a [g0:1]', '1 x a [g1:1]']);
    // Each variant: its run (2) and seven re-packs (14).
    assert.equal(everyVariant.work, VARIANTS * (2 + VARIANTS * 2));
    // No small-plan budget: each variant re-packs its tail with itself only.
    assert.equal(pack(TAIL, { ...BUDGET, smallPlan: 0 }).work, VARIANTS * (2 + 2));
    // The first variant's tail comes after 2 units of work: under 3, every variant (16 in all); the later ones come
    // after 18 or more, only their own (4 each).
    assert.equal(pack(TAIL, { ...BUDGET, smallPlan: 3 }).work, 2 + VARIANTS * 2 + (VARIANTS - 1) * 4);
    // Under 2 is not under it: 2 is not below 2.
    assert.equal(pack(TAIL, { ...BUDGET, smallPlan: 2 }).work, VARIANTS * (2 + 2));
  });

  it('re-packs only instances worth under 97% of their price, and only two or more of them', () => {
    // c: 100 millicores, 64 GiB, $100. g0 (97 millicores, first by priority) is worth $97 there, exactly 97%: not in
    // the tail. g1 (50) is worth $50: the tail is g1's instance alone, not re-packed. Each variant: g0's instance
    // stops after g0 (3 left, under g1's 50: 0 per fill), g1's reaches the list's end (1 per fill): 2.
    const c = off('c', 100, 65_536, 100);
    const packing = pack(input([group(97, 1024, { priority: 1 }), group(50, 1024)], [1, 1], [c]), BUDGET);
    assert.deepEqual(shape([c], packing), ['1 x c [g0:1]', '1 x c [g1:1]']);
    assert.equal(packing.work, VARIANTS * 2, 'no re-pack: one instance under 97%');
    // g0 of 96 is worth 96%: both are in the tail, re-packed with every variant (7 greedy runs of 2 each).
    const both = pack(input([group(96, 1024, { priority: 1 }), group(50, 1024)], [1, 1], [c]), BUDGET);
    assert.equal(both.work, VARIANTS * (2 + VARIANTS * 2));
  });

  it('tries no further variant once the work reaches the budget, but always the first', () => {
    const perVariant = 2 + VARIANTS * 2;
    // At 16 after the first variant: 16 reaches 16, so only the first runs.
    assert.equal(pack(TAIL, { ...BUDGET, work: perVariant }).work, perVariant);
    // 16 is under 17: the second runs too (32), and no third.
    assert.equal(pack(TAIL, { ...BUDGET, work: perVariant + 1 }).work, 2 * perVariant);
    // A budget of nothing still runs the first variant: there is a plan, of both tasks.
    const none = pack(TAIL, { ...BUDGET, work: 0 });
    assert.equal(none.work, perVariant);
    assert.deepEqual(shape([A], none), ['1 x a [g0:1]', '1 x a [g1:1]']);
  });

  it('remembers only plans made on the default budget', () => {
    // Three groups (none other here has them), so no other test's plan is remembered for this input.
    const three = input(
      [group(3000, 1024, { priority: 2 }), group(2000, 1024, { priority: 1 }), group(2000, 1024)],
      [1, 1, 1],
      [A],
    );
    const limited = { ...BUDGET, work: 1 };
    const first = pack(three, limited).work;
    const full = pack(three).work;
    assert.ok(full > first, `the default budget does more work (${full}) than a budget of 1 (${first})`);
    assert.equal(pack(three, limited).work, first, 'the limited budget is not answered with the default plan');
    assert.equal(pack(three).work, full);
  });
});
