import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { pack, packSteps } from '../../src/autoscaler/planner-packing.ts';
import { group, input, off, shape } from './packing-fixtures.ts';

/**
 * How the packer fills one instance (planner-packing.ts, `fill`) in the dimensions the other packer tests leave alone:
 * tasks that take no CPU or no memory, GPUs and network as the limiting dimension, and how many slices a plan of
 * three instances per greedy run takes. Each expected plan is worked out by hand in the comments.
 */

describe('planner packing: filling an instance', () => {
  it('adds a task that takes no CPU to an instance whose CPU is all taken, and one that takes no memory likewise', () => {
    // X (2000 / 8192) 100: g0 (2000 / 1024) takes all its CPU; g1 (0 / 1024) still fits in the memory left.
    const x = [off('X', 2000, 8192, 100)];
    const noCpu = pack(input([group(2000, 1024), group(0, 1024)], [1, 1], x));
    assert.deepEqual(shape(x, noCpu), ['1 x X [g0:1 g1:1]']);
    assert.equal(noCpu.costPerHourMicros, 100);
    // Y (2000 / 2048) 100: g0 (1000 / 2048) takes all its memory; g1 (1000 / 0) fits in the CPU left.
    const y = [off('Y', 2000, 2048, 100)];
    const noMemory = pack(input([group(1000, 2048), group(1000, 0)], [1, 1], y));
    assert.deepEqual(shape(y, noMemory), ['1 x Y [g0:1 g1:1]']);
  });

  it('the same with a second class, so no one-type plan stands in for the greedy one', () => {
    // As above, plus a class-1 task (1000 / 1024) that only Z (10, listed first) may run; X may run only class 0. The
    // greedy plan must itself put g1 (no CPU, or no memory) in the X that g0 filled in that dimension.
    const eligibility = Uint8Array.of(0, 1, 1, 0);
    const x = [off('Z', 1000, 1024, 10), off('X', 2000, 8192, 100)];
    const noCpu = pack(input([group(2000, 1024), group(0, 1024), group(1000, 1024, { classIndex: 1 })], [1, 1, 1], x, eligibility, 2));
    assert.deepEqual(shape(x, noCpu), ['1 x X [g0:1 g1:1]', '1 x Z [g2:1]']);
    assert.equal(noCpu.costPerHourMicros, 110);
    const y = [off('Z', 1000, 1024, 10), off('Y', 2000, 2048, 100)];
    const noMemory = pack(input([group(1000, 2048), group(1000, 0), group(1000, 1024, { classIndex: 1 })], [1, 1, 1], y, eligibility, 2));
    assert.deepEqual(shape(y, noMemory), ['1 x Y [g0:1 g1:1]', '1 x Z [g2:1]']);
    assert.equal(noMemory.costPerHourMicros, 110);
  });

  it('holds as many GPU tasks as its GPUs allow, and no filler whose GPUs the head left too few of', () => {
    // G (8000 / 16384, 4 GPUs) 500. Three tasks of 2 GPUs: two per instance, then one.
    const g = [off('G', 8000, 16384, 500, 4)];
    const two = pack(input([group(1000, 1024, { gpus: 2 })], [3], g));
    assert.deepEqual(shape(g, two), ['1 x G [g0:2]', '1 x G [g0:1]']);
    assert.equal(two.costPerHourMicros, 1000);
    // g0 (2000 / 8192, 2 GPUs) and g1 (1000 / 1024, 3 GPUs): 5 GPUs, so never together. The plan of the first variant
    // (GPUs first: g1 heads) is kept, as the others cost the same.
    const apart = pack(input([group(2000, 8192, { gpus: 2 }), group(1000, 1024, { gpus: 3 })], [1, 1], g));
    assert.deepEqual(shape(g, apart), ['1 x G [g1:1]', '1 x G [g0:1]']);
    assert.equal(apart.costPerHourMicros, 1000);
  });

  it('adds no filler whose network the head left too little of', () => {
    // N (8000 / 16384, 1000 Mbps) 500: g0 (2000 / 8192, 600 Mbps) heads; g1 (1000 / 1024, 700 Mbps) does not fit the
    // 400 left: two instances.
    const n = [off('N', 8000, 16384, 500, 0, 1000)];
    const apart = pack(input([group(2000, 8192, { netMbps: 600 }), group(1000, 1024, { netMbps: 700 })], [1, 1], n));
    assert.deepEqual(shape(n, apart), ['1 x N [g0:1]', '1 x N [g1:1]']);
    assert.equal(apart.costPerHourMicros, 1000);
  });

  it('in steps: pauses after every instance but the first of each greedy run, re-packed tails included', () => {
    // 65 tasks of 100 millis / 128 MiB over a (2000 / 4096) 100 and b (4000 / 8192) 190: each variant's greedy
    // chooses b (40), a (20), a (5): 2 pauses; its two under-filled a are re-packed by all 7 variants, each choosing
    // a (20) and a (5): 1 pause each. 1 (the model) + 7 x (2 + 7) = 64; the one-type check over 2 offerings adds none.
    const offerings = [off('a', 2000, 4096, 100), off('b', 4000, 8192, 190)];
    const steps = packSteps(input([group(100, 128)], [65], offerings));
    let pauses = 0;
    let next = steps.next();
    while (!next.done) {
      pauses++;
      next = steps.next();
    }
    assert.equal(pauses, 64);
    assert.equal(next.value.costPerHourMicros, 380);
  });
});
