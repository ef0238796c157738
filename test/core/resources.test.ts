import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { dominantShare, fits, parseCpuMillis, parseMemoryMiB, resources } from '../../src/core/resources.ts';
import { ValidationError } from '../../src/core/errors.ts';

describe('resources', () => {
  const memoryCases = [
    { name: 'mebibytes', text: '512Mi', want: 512 },
    { name: 'gibibytes', text: '4Gi', want: 4096 },
    { name: 'fractional gibibytes', text: '1.5Gi', want: 1536 },
    { name: 'decimal gigabytes round up', text: '1G', want: 954 },
    { name: 'plain bytes round up', text: '1048577', want: 2 },
  ];
  for (const c of memoryCases) {
    it(`parses memory: ${c.name}`, () => assert.equal(parseMemoryMiB(c.text), c.want));
  }

  it('rejects a memory quantity it cannot read, naming the field', () => {
    assert.throws(() => parseMemoryMiB('lots', 'tasks.0.memory'), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.equal(err.field, 'tasks.0.memory');
      return true;
    });
  });

  it('parses CPU as cores or millicores', () => {
    assert.equal(parseCpuMillis('2'), 2000);
    assert.equal(parseCpuMillis('0.5'), 500);
    assert.equal(parseCpuMillis('250m'), 250);
    assert.throws(() => parseCpuMillis('-1'), ValidationError);
  });

  it('fits only when every dimension fits', () => {
    const free = resources({ cpuMillis: 2000, memoryMiB: 4096, gpus: 0, netMbps: 100 });
    assert.equal(fits(resources({ cpuMillis: 2000, memoryMiB: 4096 }), free), true);
    assert.equal(fits(resources({ cpuMillis: 1000, gpus: 1 }), free), false);
    assert.equal(fits(resources({ netMbps: 101 }), free), false);
  });

  it('takes the dominant share over dimensions with capacity', () => {
    const capacity = resources({ cpuMillis: 4000, memoryMiB: 8192 });
    assert.equal(dominantShare(resources({ cpuMillis: 1000, memoryMiB: 4096, gpus: 1 }), capacity), 0.5);
  });
});
