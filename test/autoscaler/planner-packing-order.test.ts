import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { pack } from '../../src/autoscaler/planner-packing.ts';
import { group, input, off, shape } from './packing-fixtures.ts';

/**
 * The order of the packer's patterns (planner-packing.ts): planning order, the first pattern serving the largest group.
 * Under-filled single instances are re-packed together only when that costs less; when it does not, they stay where
 * the greedy put them. The plan is worked out by hand below.
 */
describe('planner packing: the order of the plan', () => {
  it('keeps under-filled instances in planning order when re-packing them together saves nothing', () => {
    // One offering, a (4000 millis / 4096 MiB) at 100. g0 (3000 millis) heads the first a; nothing else fits the 1000
    // millis it leaves (g2, the smallest left, takes 1500). g1 (2000 millis, four tasks) fills an a exactly with two:
    // twice. g2 (1500) goes on a last a. 12,500 millis need four a at least: 400 is the least. The first and the last
    // are under-filled (3000 and 1500 of 4000) and single, but g0 and g2 together do not fit one a, so re-packing them
    // saves nothing, and they stay first and last.
    const offerings = [off('a', 4000, 4096, 100)];
    const groups = [group(3000, 1024), group(2000, 1024), group(1500, 1024)];
    const packing = pack(input(groups, [1, 4, 1], offerings));
    assert.deepEqual(shape(offerings, packing), ['1 x a [g0:1]', '2 x a [g1:2]', '1 x a [g2:1]']);
    assert.equal(packing.costPerHourMicros, 400);
  });
});
