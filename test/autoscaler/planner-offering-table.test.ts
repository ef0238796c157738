import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { OfferingTable } from '../../src/autoscaler/planner-offering-table.ts';
import type { Offering } from '../../src/core/offering.ts';
import { offering, task } from '../fakes/builders.ts';

/**
 * What the table of a list of offerings remembers (planner-offering-table.ts): the four most recently used lists'
 * tables, found only for the same offering objects in the same order, and up to 1,024 class rows per table.
 */

/** A list of `n` new offering objects (no remembered table holds them). */
function list(n: number, tag: string): Offering[] {
  return Array.from({ length: n }, (_, i) =>
    offering({ instanceType: `${tag}.${i}`, pricePerHourMicros: 100_000 + i, capacity: { cpuMillis: 1000 * (i + 1) } }),
  );
}

describe('planner: the offering table', () => {
  it('tells a list from a longer or shorter one with the same first offerings', () => {
    const all = list(4, 'prefix');
    const short = OfferingTable.of(all.slice(0, 3));
    const long = OfferingTable.of(all);
    assert.notEqual(long, short);
    assert.equal(long.offerings.length, 4);
    assert.equal(short.offerings.length, 3);
    assert.equal(OfferingTable.of(all.slice(0, 3)), short);
    assert.equal(OfferingTable.of([...all]), long);
  });

  it('keeps the tables of the four most recently used lists, a table found again counting as used', () => {
    const [a, b, c, d, e, f] = ['a', 'b', 'c', 'd', 'e', 'f'].map((tag) => list(2, tag));
    const ta = OfferingTable.of(a!);
    const tb = OfferingTable.of(b!);
    const tc = OfferingTable.of(c!);
    const td = OfferingTable.of(d!);
    // Four lists: all remembered (most recent first: d, c, b, a).
    assert.equal(OfferingTable.of([...a!]), ta);
    // a was just used: the order is a, d, c, b, and a fifth list drops b, the least recently used.
    OfferingTable.of(e!);
    assert.equal(OfferingTable.of([...c!]), tc);
    assert.equal(OfferingTable.of([...d!]), td);
    assert.equal(OfferingTable.of([...a!]), ta);
    // b is derived afresh (and remembered again, dropping e: the order was a, d, c, e).
    const tb2 = OfferingTable.of([...b!]);
    assert.notEqual(tb2, tb);
    assert.deepEqual(tb2.offerings, b);
    // Now b, a, d, c: a sixth list drops c.
    OfferingTable.of(f!);
    assert.equal(OfferingTable.of([...a!]), ta);
    assert.notEqual(OfferingTable.of([...c!]), tc);
  });

  it('finds the first lists of a fresh process again, before four tables are kept', async () => {
    // A module instance of its own (a new URL): its list of recent tables starts empty, as in a new controller.
    const url = `../../src/autoscaler/planner-offering-table.ts?fresh=${process.hrtime.bigint()}`;
    const { OfferingTable: Fresh } = (await import(url)) as { OfferingTable: typeof OfferingTable };
    const [a, b, c] = ['fa', 'fb', 'fc'].map((tag) => list(2, tag));
    const ta = Fresh.of(a!);
    assert.notEqual(ta, OfferingTable.of(a!), 'the fresh module has tables of its own');
    const tb = Fresh.of(b!);
    assert.notEqual(tb, ta);
    assert.equal(Fresh.of([...a!]), ta);
    assert.equal(Fresh.of([...b!]), tb);
    const tc = Fresh.of(c!);
    assert.deepEqual([Fresh.of([...a!]), Fresh.of([...b!]), Fresh.of([...c!])], [ta, tb, tc]);
  });

  it('copies the list it was made from: changing the caller array later changes no table', () => {
    const offerings = list(3, 'copy');
    const table = OfferingTable.of(offerings);
    const first = offerings[0]!;
    offerings[0] = offerings[2]!;
    assert.equal(table.offerings[0], first);
    assert.equal(OfferingTable.of(offerings) === table, false);
  });

  it('keeps up to 1,024 class rows, then starts over', () => {
    const table = OfferingTable.of(list(2, 'rows'));
    const cls = (i: number): { key: string; representative: ReturnType<typeof task> } => ({
      key: `class-${i}`,
      representative: task({ revocable: i % 2 === 1 }),
    });
    const first = table.eligibility(cls(0));
    for (let i = 1; i < 1_024; i++) table.eligibility(cls(i));
    // 1,024 rows: all remembered.
    assert.equal(table.eligibility(cls(0)), first);
    assert.equal(table.eligibility(cls(1_023)), table.eligibility(cls(1_023)));
    // The 1,025th clears them, then is remembered itself.
    const last = table.eligibility(cls(1_024));
    assert.equal(table.eligibility(cls(1_024)), last);
    const again = table.eligibility(cls(0));
    assert.notEqual(again, first);
    assert.deepEqual([...again], [...first]);
    // Every row gives the rules' answer: on-demand offerings take steady and revocable tasks alike.
    assert.deepEqual([...first], [1, 1]);
  });
});
