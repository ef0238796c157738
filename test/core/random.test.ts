import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { seededRandom } from '../../src/core/random.ts';

describe('seeded random', () => {
  it('repeats its sequence for a seed, differs across seeds, and stays in [0, 1)', () => {
    const take = (seed: number): number[] => {
      const next = seededRandom(seed);
      return Array.from({ length: 1_000 }, () => next());
    };
    assert.deepEqual(take(42), take(42));
    assert.notDeepEqual(take(42), take(43));
    assert.ok(take(7).every((x) => x >= 0 && x < 1));
  });
});
