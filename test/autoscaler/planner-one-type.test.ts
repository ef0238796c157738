import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { oneTypePacking } from '../../src/autoscaler/planner-one-type.ts';
import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import type { Pattern } from '../../src/autoscaler/planner-packing-types.ts';
import type { Offering } from '../../src/core/offering.ts';
import type { Resources } from '../../src/core/resources.ts';

const RUNS = Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100);
const KEYS = ['cpuMillis', 'memoryMiB', 'gpus', 'netMbps'] as const;

/**
 * The test's own one-type plan, built the plain way: for every offering that may run and hold every group, first fit
 * decreasing (CPU, then memory, GPUs, network) into as many instances as it takes; the cheapest offering wins, the
 * first one on a tie. No shortcut: every offering's bins are built in full.
 */
function reference(
  groups: readonly { size: Resources; classIndex: number }[],
  counts: readonly number[],
  offerings: readonly Offering[],
  eligibility: Uint8Array,
): { patterns: Pattern[]; costPerHourMicros: number } | undefined {
  const wanted = groups
    .map((g, index) => ({ ...g, index, count: counts[index]! }))
    .filter((g) => g.count > 0)
    .sort((a, b) => {
      for (const k of KEYS) if (a.size[k] !== b.size[k]) return b.size[k] - a.size[k];
      return a.index - b.index;
    });
  if (wanted.length === 0 || wanted.reduce((n, g) => n + g.count, 0) > 2_000) return undefined;
  let best: { patterns: Pattern[]; costPerHourMicros: number } | undefined;
  offerings.forEach((offering, o) => {
    const ok = wanted.every(
      (g) => eligibility[g.classIndex * offerings.length + o] === 1 && KEYS.every((k) => g.size[k] <= offering.capacity[k]),
    );
    if (!ok) return;
    const bins: { free: Resources; items: Map<number, number> }[] = [];
    for (const g of wanted) {
      for (let t = 0; t < g.count; t++) {
        let bin = bins.find((b) => KEYS.every((k) => g.size[k] <= b.free[k]));
        if (!bin) bins.push((bin = { free: { ...offering.capacity }, items: new Map() }));
        const free = { ...bin.free };
        for (const k of KEYS) free[k] -= g.size[k];
        bin.free = free;
        bin.items.set(g.index, (bin.items.get(g.index) ?? 0) + 1);
      }
    }
    const cost = bins.length * offering.pricePerHourMicros;
    if (best && cost >= best.costPerHourMicros) return;
    const patterns = bins
      .map((b) => ({
        offering: o,
        items: [...b.items].map(([group, count]) => ({ group, count })).sort((a, b) => a.group - b.group),
        times: 1,
      }))
      .sort((a, b) => a.items[0]!.group - b.items[0]!.group);
    best = { patterns, costPerHourMicros: cost };
  });
  return best;
}

function offering(i: number, capacity: Resources, pricePerHourMicros: number): Offering {
  return {
    providerId: 'sim:test',
    provider: 'sim',
    region: 'r',
    zone: 'r-a',
    instanceType: `t${i}`,
    capacity,
    lifecycle: 'on-demand',
    pricePerHourMicros,
    bootMs: 1_000,
    gpuModel: null,
    labels: {},
    available: true,
  };
}

const sizeArb = fc.record({
  cpuMillis: fc.integer({ min: 0, max: 8 }).map((n) => n * 500),
  memoryMiB: fc.integer({ min: 0, max: 8 }).map((n) => n * 1024),
  gpus: fc.integer({ min: 0, max: 2 }),
  netMbps: fc.constantFrom(0, 0, 100),
});
const capacityArb = fc.record({
  cpuMillis: fc.integer({ min: 1, max: 16 }).map((n) => n * 1000),
  memoryMiB: fc.integer({ min: 1, max: 32 }).map((n) => n * 1024),
  gpus: fc.integer({ min: 0, max: 4 }),
  netMbps: fc.constantFrom(0, 1_000, 10_000),
});

describe('the one-type baseline (planner-one-type.ts)', () => {
  it('gives exactly the plan of building every offering in full, though it skips offerings that cannot win', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: sizeArb, classIndex: fc.integer({ min: 0, max: 1 }), count: fc.integer({ min: 0, max: 40 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(fc.record({ capacity: capacityArb, price: fc.integer({ min: 1, max: 20 }).map((n) => n * 50_000) }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
        (specs, offeringSpecs, allowed) => {
          const offerings = offeringSpecs.map((s, i) => offering(i, s.capacity, s.price));
          const eligibility = Uint8Array.from({ length: 2 * offerings.length }, (_, i) => (allowed[i % 24] || i < offerings.length ? 1 : 0));
          const groups: TaskGroup[] = specs.map((s, i) => ({
            key: `g${i}`,
            classIndex: s.classIndex,
            priority: 0,
            size: s.size,
            tasks: [],
          }));
          const counts = specs.map((s) => s.count);
          const input = { groups, counts, offerings, eligibility, classCount: 2 };
          assert.deepEqual(oneTypePacking(input, counts), reference(groups, counts, offerings, eligibility));
        },
      ),
      { numRuns: RUNS, seed: 15_002 },
    );
  });

  it('finds the cheapest offering when a small cheap one would need a thousand instances', () => {
    // 1,000 one-CPU tasks: a 1-CPU offering at 10 needs 1,000 instances (10,000); a 16-CPU one at 120 needs 63 (7,560);
    // a 2-CPU one at 19 needs 500 (9,500); an 8-CPU one at 60 needs exactly 125 (7,500): the cheapest, by 60.
    const offerings = [
      offering(0, { cpuMillis: 1000, memoryMiB: 4096, gpus: 0, netMbps: 0 }, 10),
      offering(1, { cpuMillis: 16_000, memoryMiB: 65_536, gpus: 0, netMbps: 0 }, 120),
      offering(2, { cpuMillis: 2000, memoryMiB: 8192, gpus: 0, netMbps: 0 }, 19),
      offering(3, { cpuMillis: 8000, memoryMiB: 32_768, gpus: 0, netMbps: 0 }, 60),
    ];
    const groups: TaskGroup[] = [
      { key: 'g', classIndex: 0, priority: 0, size: { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 }, tasks: [] },
    ];
    const input = { groups, counts: [1000], offerings, eligibility: Uint8Array.of(1, 1, 1, 1), classCount: 1 };
    const result = oneTypePacking(input, [1000]);
    assert.equal(result?.costPerHourMicros, 125 * 60);
    assert.equal(result?.patterns.length, 125);
    for (const p of result?.patterns ?? []) assert.deepEqual(p, { offering: 3, items: [{ group: 0, count: 8 }], times: 1 });
    // Without the 8-CPU offering, the 16-CPU one: 62 full instances and one with the last 8 tasks.
    const without = oneTypePacking({ ...input, offerings: offerings.slice(0, 3), eligibility: Uint8Array.of(1, 1, 1) }, [1000]);
    assert.equal(without?.costPerHourMicros, 63 * 120);
    assert.deepEqual(without?.patterns[0], { offering: 1, items: [{ group: 0, count: 16 }], times: 1 });
    assert.deepEqual(without?.patterns[62], { offering: 1, items: [{ group: 0, count: 1000 - 62 * 16 }], times: 1 });
  });
});
