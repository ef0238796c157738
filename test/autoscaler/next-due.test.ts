import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import fc from 'fast-check';
import { nextDueMs, type DueInputs } from '../../src/autoscaler/next-due.ts';

const NOW = 1_000_000;

function inputs(overrides: Partial<DueInputs> = {}): DueInputs {
  return {
    nowMs: NOW,
    intervalMs: 10_000,
    pendingGraceMs: 5_000,
    pendingSinceMs: [],
    breakerRetryAtMs: [],
    unavailableUntilMs: [],
    ...overrides,
  };
}

const runs = Number(process.env.SPILLWAY_PROPERTY_RUNS ?? 200);

describe('nextDueMs', () => {
  const cases: { name: string; overrides: Partial<DueInputs>; expected: number }[] = [
    { name: 'nothing held back: the interval', overrides: {}, expected: NOW + 10_000 },
    {
      name: "a pending task's grace ends before the interval",
      overrides: { pendingSinceMs: [NOW - 2_000] },
      expected: NOW + 3_000,
    },
    {
      name: 'the earliest of several grace ends',
      overrides: { pendingSinceMs: [NOW - 1_000, NOW - 4_999, NOW - 3_000] },
      expected: NOW + 1,
    },
    {
      name: 'a grace that ended already was due in the pass just run',
      overrides: { pendingSinceMs: [NOW - 5_000, NOW - 9_000, NOW - 1_000] },
      expected: NOW + 4_000,
    },
    {
      name: 'a grace ending after the interval: the interval',
      overrides: { pendingSinceMs: [NOW + 6_000] },
      expected: NOW + 10_000,
    },
    {
      name: "an open breaker's backoff ends",
      overrides: { pendingSinceMs: [NOW - 1_000], breakerRetryAtMs: [NOW + 2_500] },
      expected: NOW + 2_500,
    },
    {
      name: 'an unavailable offering comes back',
      overrides: { breakerRetryAtMs: [NOW + 7_000], unavailableUntilMs: [NOW + 9_000, NOW + 6_000] },
      expected: NOW + 6_000,
    },
    {
      name: 'a breaker due now or before counts no more',
      overrides: { breakerRetryAtMs: [NOW, NOW - 10], unavailableUntilMs: [NOW] },
      expected: NOW + 10_000,
    },
    { name: 'a zero grace: every pending task is due now', overrides: { pendingGraceMs: 0, pendingSinceMs: [NOW] }, expected: NOW + 10_000 },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(nextDueMs(inputs(c.overrides)), c.expected));
  }

  it('is the earliest moment after now among every due time and the interval (property)', () => {
    const time = fc.integer({ min: NOW - 20_000, max: NOW + 20_000 });
    fc.assert(
      fc.property(
        fc.record({
          intervalMs: fc.integer({ min: 50, max: 15_000 }),
          pendingGraceMs: fc.integer({ min: 0, max: 10_000 }),
          pendingSinceMs: fc.array(time, { maxLength: 20 }),
          breakerRetryAtMs: fc.array(time, { maxLength: 5 }),
          unavailableUntilMs: fc.array(time, { maxLength: 5 }),
        }),
        (r) => {
          const due = nextDueMs({ nowMs: NOW, ...r });
          // Independently: every candidate moment, keep those after now, add the beat, take the least.
          const candidates = [
            ...r.pendingSinceMs.map((s) => s + r.pendingGraceMs),
            ...r.breakerRetryAtMs,
            ...r.unavailableUntilMs,
          ].filter((t) => t > NOW);
          assert.equal(due, Math.min(NOW + r.intervalMs, ...candidates));
          assert.ok(due > NOW && due <= NOW + r.intervalMs);
        },
      ),
      { numRuns: runs, seed: 15 },
    );
  });
});
