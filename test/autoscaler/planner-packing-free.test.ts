import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { pack } from '../../src/autoscaler/planner-packing.ts';
import { group, input, off, shape } from './packing-fixtures.ts';

/**
 * The packer (planner-packing.ts) with a free offering (price 0, which the config's `pricePerHourUsd` allows): a task's
 * value (its cheapest price of its dominant share) is then 0, so an instance's score, its price over the value it
 * holds, is 0 / 0 or p / 0. The greedy used to choose no instance then and loop for ever; it must plan every task.
 */
describe('planner packing: free offerings', () => {
  it('packs tasks on a free offering, as many to an instance as fit, at no cost', () => {
    // f (2000 / 4096) is free, a (4000 / 8192) costs 100. Three 1000 / 1024 tasks: two fit an f, so f twice (2 and 1).
    const offerings = [off('f', 2000, 4096, 0), off('a', 4000, 8192, 100)];
    const packing = pack(input([group(1000, 1024)], [3], offerings));
    assert.deepEqual(shape(offerings, packing), ['1 x f [g0:2]', '1 x f [g0:1]']);
    assert.equal(packing.costPerHourMicros, 0);
    assert.deepEqual(packing.unfit, []);
  });

  it('packs tasks that take nothing on the one paid offering they may run, when another class has a free one', () => {
    // Class 0 (five tasks of 0 / 0) may run only a (100); class 1 (three of 1000 / 1024) only f (free, two a piece).
    // The empty tasks' value is 0 (they take no share), so a's score for them is 100 / 0: still one a holds all five.
    const offerings = [off('f', 2000, 4096, 0), off('a', 4000, 8192, 100)];
    const groups = [group(0, 0), group(1000, 1024, { classIndex: 1 })];
    const packing = pack(input(groups, [5, 3], offerings, Uint8Array.of(0, 1, 1, 0), 2));
    assert.deepEqual(shape(offerings, packing), ['1 x f [g1:2]', '1 x f [g1:1]', '1 x a [g0:5]']);
    assert.equal(packing.costPerHourMicros, 100);
  });
});
