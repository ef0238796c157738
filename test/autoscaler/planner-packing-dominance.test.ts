import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import { PackingModel } from '../../src/autoscaler/planner-packing-model.ts';
import type { Offering } from '../../src/core/offering.ts';
import { group, off } from './packing-fixtures.ts';

/**
 * Which offerings the packing model keeps (planner-packing-model.ts, `#undominated`) where GPUs, network or classes in a
 * second word of bits decide it, and the dominating offering is not the first. Worked by hand in the comments.
 */

function kept(groups: TaskGroup[], offerings: Offering[], eligibility: Uint8Array, classCount: number): number[][] {
  const m = new PackingModel({ groups, counts: groups.map(() => 1), offerings, eligibility, classCount });
  return m.fitKept.map((k) => [...k]);
}

describe('planner packing model: dominance by GPUs, network and many classes', () => {
  it('keeps a dearer offering with more GPUs, and drops one with no more of anything', () => {
    // R (1000 / 1024, no GPU) 50 first; P (4000 / 8192, 1 GPU) 100; Q (4000 / 4096, 2 GPUs) 200; S (as P) 300.
    // A GPU task (1000 / 1024 / 1 GPU): Q has more GPUs than P, so P does not dominate it; S is dominated by P (not
    // by Q, which has less memory).
    const offerings = [off('R', 1000, 1024, 50), off('P', 4000, 8192, 100, 1), off('Q', 4000, 4096, 200, 2), off('S', 4000, 8192, 300, 1)];
    assert.deepEqual(kept([group(1000, 1024, { gpus: 1 }), group(500, 512)], offerings, Uint8Array.of(1, 1, 1, 1), 1), [[1, 2], [0, 1, 2]]);
  });

  it('keeps a dearer offering with more network bandwidth, and drops one with no more of anything', () => {
    // R first as above; P (4000 / 8192, 1000 Mbps) 100; Q (2000 Mbps) 200; S (as P) 300. A task needs 500 Mbps.
    const offerings = [off('R', 1000, 1024, 50), off('P', 4000, 8192, 100, 0, 1000), off('Q', 4000, 8192, 200, 0, 2000), off('S', 4000, 8192, 300, 0, 1000)];
    assert.deepEqual(kept([group(1000, 1024, { netMbps: 500 }), group(500, 512)], offerings, Uint8Array.of(1, 1, 1, 1), 1), [[1, 2], [0, 1, 2]]);
  });

  it('compares the second word of class bits of the dominating offering, not of the one before it', () => {
    // 33 classes (two words of bits), a group of 500 / 512 in each. W0 (1000 / 8192) 50 may run classes 0 and 32;
    // X (4000 / 8192) 100 classes 0 to 31; Y (2000 / 4096) 200 every class; Z (2000 / 8192) 300 class 0 only.
    // W0 is smallest, so dominates nothing; Y has less memory than Z. X dominates Z (class 0 only), not Y (class 32,
    // which X may not run).
    const groups = [...Array(33).keys()].map((c) => group(500, 512, { classIndex: c }));
    const offerings = [off('W0', 1000, 8192, 50), off('X', 4000, 8192, 100), off('Y', 2000, 4096, 200), off('Z', 2000, 8192, 300)];
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
