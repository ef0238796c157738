import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { apportion } from '../../src/cost-model/apportion.ts';

const map = (entries: Record<string, number>): Map<string, number> => new Map(Object.entries(entries));

describe('apportion', () => {
  // Expected parts worked out by hand with the largest-remainder method.
  const cases: { name: string; exact: Record<string, number>; total: number; want: [string, number][] }[] = [
    {
      name: 'exact integers as they are',
      exact: { a: 2, b: 5 },
      total: 7,
      want: [
        ['a', 2],
        ['b', 5],
      ],
    },
    {
      name: 'the unit left over to the largest fraction',
      exact: { a: 0.2, b: 0.7, c: 2.1 },
      total: 3,
      want: [
        ['b', 1],
        ['c', 2],
      ],
    },
    {
      name: 'a tie of fractions to the first key',
      exact: { b: 1.5, a: 1.5 },
      total: 3,
      want: [
        ['a', 2],
        ['b', 1],
      ],
    },
    {
      name: 'two units left over to the two largest fractions',
      exact: { a: 0.5, b: 0.9, c: 0.6 },
      total: 2,
      want: [
        ['b', 1],
        ['c', 1],
      ],
    },
    {
      name: 'a total above the amounts round robin, largest fraction first',
      exact: { a: 1, b: 1 },
      total: 5,
      want: [
        ['a', 3],
        ['b', 2],
      ],
    },
    {
      name: 'a total below the amounts taken from the last in line',
      exact: { a: 2, b: 2 },
      total: 3,
      want: [
        ['a', 2],
        ['b', 1],
      ],
    },
    {
      name: 'a deficit of two units from the last two in line, backwards',
      exact: { a: 1, b: 1, c: 1 },
      total: 1,
      want: [['a', 1]],
    },
    { name: 'a deficit only from keys that have a part', exact: { a: 0, b: 3 }, total: 1, want: [['b', 1]] },
    { name: 'a deficit larger than the parts down to nothing', exact: { a: 1, b: 1 }, total: -3, want: [] },
    {
      name: 'negative, infinite and NaN amounts as zero',
      exact: { a: -4, b: Number.NaN, c: Infinity, d: 1 },
      total: 1,
      want: [['d', 1]],
    },
    { name: 'a zero total as nothing', exact: { a: 0.4, b: 0.3 }, total: 0, want: [] },
    { name: 'no keys as nothing', exact: {}, total: 5, want: [] },
  ];
  for (const c of cases) {
    it(`splits ${c.name}`, () => {
      assert.deepEqual([...apportion(map(c.exact), c.total)], c.want);
    });
  }

  it('returns the parts in key order, summing to the total', () => {
    const parts = apportion(map({ z: 1.25, m: 2.5, a: 3.25 }), 7);
    assert.deepEqual([...parts.keys()], ['a', 'm', 'z']);
    assert.deepEqual(
      [...parts],
      [
        ['a', 3],
        ['m', 3],
        ['z', 1],
      ],
    );
  });
});
