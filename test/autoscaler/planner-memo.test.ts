import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { classEligibility, type TaskClass, type TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import { OfferingTable } from '../../src/autoscaler/planner-offering-table.ts';
import { pack } from '../../src/autoscaler/planner-packing.ts';
import type { PackingInput } from '../../src/autoscaler/planner-packing-types.ts';
import type { Offering } from '../../src/core/offering.ts';
import type { Resources } from '../../src/core/resources.ts';
import { eligible, offeringHost } from '../../src/pool/builtin/eligibility.ts';
import { task } from '../fakes/builders.ts';

/**
 * What the planner derives once per list of offerings (planner-offering-table.ts) and the small packings it remembers
 * (planner-packing.ts, `rememberedPacking`): every answer must be the one a fresh derivation or packing gives.
 */

const RUNS = Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100);

function offering(instanceType: string, cpus: number, memoryGiB: number, price: number, spot = false): Offering {
  return {
    providerId: 'aws-ec2:us-east-1',
    provider: 'aws-ec2',
    region: 'us-east-1',
    zone: 'us-east-1a',
    instanceType,
    capacity: { cpuMillis: cpus * 1000, memoryMiB: memoryGiB * 1024, gpus: 0, netMbps: 0 },
    lifecycle: spot ? 'spot' : 'on-demand',
    pricePerHourMicros: price,
    bootMs: 60_000,
    gpuModel: null,
    labels: {},
    available: true,
  };
}

/** Cheapest first, as the planner hands them over. */
const OFFERINGS: readonly Offering[] = [
  offering('s.spot', 2, 4, 30_000, true),
  offering('s', 2, 4, 100_000),
  offering('m', 4, 8, 190_000),
  offering('hm', 2, 16, 210_000),
  offering('l', 8, 16, 370_000),
  offering('xl', 16, 32, 730_000),
];

/** The same offerings as new objects: no remembered table or packing is found for them. */
function fresh(offerings: readonly Offering[]): Offering[] {
  return offerings.map((o) => ({ ...o, capacity: { ...o.capacity }, labels: { ...o.labels } }));
}

const SHAPES: readonly Resources[] = [
  { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 },
  { cpuMillis: 1000, memoryMiB: 8192, gpus: 0, netMbps: 0 },
  { cpuMillis: 2000, memoryMiB: 2048, gpus: 0, netMbps: 0 },
  { cpuMillis: 4000, memoryMiB: 4096, gpus: 0, netMbps: 0 },
];

/** A small packing input: up to four groups (shape, class, priority), counts, and any eligibility matrix. */
const inputArb = fc
  .record({
    groups: fc.array(
      fc.record({
        shape: fc.integer({ min: 0, max: SHAPES.length - 1 }),
        classIndex: fc.integer({ min: 0, max: 1 }),
        priority: fc.integer({ min: 0, max: 1 }),
        count: fc.integer({ min: 1, max: 5 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    eligibility: fc.array(fc.boolean(), { minLength: 2 * OFFERINGS.length, maxLength: 2 * OFFERINGS.length }),
  })
  .map(({ groups, eligibility }) => ({
    groups: groups.map((g, i): TaskGroup => ({
      key: `g${i}`,
      classIndex: g.classIndex,
      priority: g.priority,
      size: SHAPES[g.shape]!,
      tasks: [],
    })),
    counts: groups.map((g) => g.count),
    eligibility: Uint8Array.from(eligibility, (b) => (b ? 1 : 0)),
  }));

describe('planner: what it derives once and what it remembers', () => {
  it('finds the table of a list holding the same offerings in the same order, and no other', () => {
    const table = OfferingTable.of(OFFERINGS);
    assert.equal(OfferingTable.of([...OFFERINGS]), table);
    assert.notEqual(OfferingTable.of(fresh(OFFERINGS)), table);
    assert.notEqual(OfferingTable.of([...OFFERINGS].reverse()), table);
    assert.notEqual(OfferingTable.of(OFFERINGS.slice(1)), table);
    // Capacities and prices in RESOURCE_KEYS order, offering by offering.
    assert.deepEqual(
      [...table.cap],
      OFFERINGS.flatMap((o) => [o.capacity.cpuMillis, o.capacity.memoryMiB, o.capacity.gpus, o.capacity.netMbps]),
    );
    assert.deepEqual(
      [...table.price],
      OFFERINGS.map((o) => o.pricePerHourMicros),
    );
  });

  it('gives each class the eligibility the rules give it, offering by offering', () => {
    const classes: TaskClass[] = [
      { key: 'steady', representative: task({ revocable: false }) },
      { key: 'revocable', representative: task({ revocable: true }) },
    ];
    const expected = classes.flatMap((c) =>
      OFFERINGS.map((o) => (eligible(c.representative, offeringHost(o)) ? 1 : 0)),
    );
    // Asked twice: the second answer comes from the table.
    for (let i = 0; i < 2; i++) assert.deepEqual([...classEligibility(classes, [...OFFERINGS])], expected);
    // A steady task may not run on spot; a revocable one may: the rows differ exactly there.
    assert.deepEqual(expected.slice(0, OFFERINGS.length), [0, 1, 1, 1, 1, 1]);
    assert.deepEqual(expected.slice(OFFERINGS.length), [1, 1, 1, 1, 1, 1]);
  });

  it('packs any small input as a fresh packing does, whatever it packed before over the same offerings', () => {
    fc.assert(
      fc.property(inputArb, inputArb, (before, after) => {
        const base = (
          i: Omit<PackingInput, 'offerings' | 'classCount'>,
          offerings: readonly Offering[],
        ): PackingInput => ({
          ...i,
          offerings,
          classCount: 2,
        });
        pack(base(before, OFFERINGS));
        const remembered = pack(base(after, OFFERINGS));
        // Its own offering objects: nothing remembered applies, the packing is computed.
        const computed = pack(base(after, fresh(OFFERINGS)));
        assert.deepEqual(remembered, computed);
        // And asking again gives it again.
        assert.deepEqual(pack(base(after, [...OFFERINGS])), computed);
      }),
      { numRuns: RUNS },
    );
  });

  it('remembers a packing: the same small input again is answered with the packing computed for it', () => {
    const input: PackingInput = {
      groups: [{ key: 'g', classIndex: 0, priority: 0, size: SHAPES[0]!, tasks: [] }],
      counts: [3],
      offerings: fresh(OFFERINGS),
      eligibility: Uint8Array.of(1, 1, 1, 1, 1, 1),
      classCount: 1,
    };
    const first = pack(input);
    assert.equal(pack({ ...input, counts: [3], eligibility: Uint8Array.of(1, 1, 1, 1, 1, 1) }), first);
    // Three one-CPU tasks, every offering allowed: two 2-CPU spot instances ($0.03 each) are the cheapest holders.
    assert.equal(first.costPerHourMicros, 60_000);
    // Another count is another input.
    assert.notEqual(pack({ ...input, counts: [2] }), first);
  });
});
