import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { gpuModelMatches, normalizeGpuModel } from '../../src/core/gpu-model.ts';

describe('gpu models', () => {
  const normalised = [
    { name: 'upper-cases', input: 'a100', expected: 'A100' },
    { name: 'turns spaces and underscores into one dash', input: ' a100 _ 80gb ', expected: 'A100-80GB' },
    { name: 'keeps dashes', input: 'H100-80GB-MEGA', expected: 'H100-80GB-MEGA' },
  ];
  for (const c of normalised) {
    it(`normalises a name: ${c.name}`, () => assert.equal(normalizeGpuModel(c.input), c.expected));
  }

  const matches = [
    { name: 'the same name', requested: 'L4', offered: 'L4', expected: true },
    { name: 'any case', requested: 'a100', offered: 'A100', expected: true },
    { name: 'a memory variant of the chip', requested: 'A100', offered: 'A100-40GB', expected: true },
    { name: 'a longer variant', requested: 'H100', offered: 'H100-80GB-MEGA', expected: true },
    { name: 'the exact variant', requested: 'A100-80GB', offered: 'A100-80GB', expected: true },
    { name: 'not another variant', requested: 'A100-80GB', offered: 'A100-40GB', expected: false },
    { name: 'not a chip whose name only starts alike', requested: 'T4', offered: 'T4G-16GB', expected: false },
    { name: 'not L40S for L4', requested: 'L4', offered: 'L40S-45GB', expected: false },
    { name: 'not the bare chip for a variant request', requested: 'A100-40GB', offered: 'A100', expected: false },
    { name: 'nothing for an empty request', requested: ' ', offered: 'A100', expected: false },
  ];
  for (const c of matches) {
    it(`matches a requested model against an offered one: ${c.name}`, () => {
      assert.equal(gpuModelMatches(c.requested, c.offered), c.expected);
    });
  }
});
