import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import { PackingModel } from '../../src/autoscaler/planner-packing-model.ts';
import type { Offering } from '../../src/core/offering.ts';
import { offering } from '../fakes/builders.ts';

/**
 * Which offerings the packing model keeps (planner-packing-model.ts, `#undominated`) where GPUs, network or classes in a
 * second word of bits decide it, and the dominating offering is not the first. Worked by hand in the comments.
 */

function off(instanceType: string, cpuMillis: number, memoryMiB: number, gpus: number, netMbps: number, price: number): Offering {
  return offering({ instanceType, capacity: { cpuMillis, memoryMiB, gpus, netMbps }, pricePerHourMicros: price });
}

function group(classIndex: number, cpuMillis: number, memoryMiB: number, gpus = 0, netMbps = 0): TaskGroup {
  return { key: `g${classIndex}-${cpuMillis}-${gpus}-${netMbps}`, classIndex, priority: 0, size: { cpuMillis, memoryMiB, gpus, netMbps }, tasks: [] };
}

function kept(groups: TaskGroup[], offerings: Offering[], eligibility: Uint8Array, classCount: number): number[][] {
  const m = new PackingModel({ groups, counts: groups.map(() => 1), offerings, eligibility, classCount });
  return m.fitKept.map((k) => [...k]);
}

describe('planner packing model: dominance by GPUs, network and many classes', () => {
  it('keeps a dearer offering with more GPUs, and drops one with no more of anything', () => {
    // R (1000 / 1024, no GPU) 50 first; P (4000 / 8192, 1 GPU) 100; Q (4000 / 4096, 2 GPUs) 200; S (as P) 300.
    // A GPU task (1000 / 1024 / 1 GPU): Q has more GPUs than P, so P does not dominate it; S is dominated by P (not
    // by Q, which has less memory).
    const offerings = [off('R', 1000, 1024, 0, 0, 50), off('P', 4000, 8192, 1, 0, 100), off('Q', 4000, 4096, 2, 0, 200), off('S', 4000, 8192, 1, 0, 300)];
    assert.deepEqual(kept([group(0, 1000, 1024, 1), group(0, 500, 512)], offerings, Uint8Array.of(1, 1, 1, 1), 1), [[1, 2], [0, 1, 2]]);
  });

  it('keeps a dearer offering with more network bandwidth, and drops one with no more of anything', () => {
    // R first as above; P (4000 / 8192, 1000 Mbps) 100; Q (2000 Mbps) 200; S (as P) 300. A task needs 500 Mbps.
    const offerings = [off('R', 1000, 1024, 0, 0, 50), off('P', 4000, 8192, 0, 1000, 100), off('Q', 4000, 8192, 0, 2000, 200), off('S', 4000, 8192, 0, 1000, 300)];
    assert.deepEqual(kept([group(0, 1000, 1024, 0, 500), group(0, 500, 512)], offerings, Uint8Array.of(1, 1, 1, 1), 1), [[1, 2], [0, 1, 2]]);
  });

  it('compares the second word of class bits of the dominating offering, not of the one before it', () => {
    // 33 classes (two words of bits), a group of 500 / 512 in each. W0 (1000 / 8192) 50 may run classes 0 and 32;
    // X (4000 / 8192) 100 classes 0 to 31; Y (2000 / 4096) 200 every class; Z (2000 / 8192) 300 class 0 only.
    // W0 is smallest, so dominates nothing; Y has less memory than Z. X dominates Z (class 0 only), not Y (class 32,
    // which X may not run).
    const groups = [...Array(33).keys()].map((c) => group(c, 500, 512));
    const offerings = [off('W0', 1000, 8192, 0, 0, 50), off('X', 4000, 8192, 0, 0, 100), off('Y', 2000, 4096, 0, 0, 200), off('Z', 2000, 8192, 0, 0, 300)];
    const eligibility = new Uint8Array(33 * 4);
    for (let c = 0; c < 33; c++) {
      eligibility[c * 4] = c === 0 || c === 32 ? 1 : 0;
      eligibility[c * 4 + 1] = c < 32 ? 1 : 0;
      eligibility[c * 4 + 2] = 1;
      eligibility[c * 4 + 3] = c === 0 ? 1 : 0;
    }
    const k = kept(groups, offerings, eligibility, 33);
    assert.deepEqual(k[0], [0, 1, 2]);
    assert.deepEqual(k[5], [1, 2]);
    assert.deepEqual(k[32], [0, 2]);
  });
});
