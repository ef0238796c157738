import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import { ONE_TYPE_MAX_TASKS, oneTypePacking, oneTypeSteps } from '../../src/autoscaler/planner-one-type.ts';
import type { PackingInput } from '../../src/autoscaler/planner-packing-types.ts';
import type { Offering } from '../../src/core/offering.ts';
import type { Resources } from '../../src/core/resources.ts';
import { offering } from '../fakes/builders.ts';

/**
 * The one-type baseline's edges (planner-one-type.ts): where its slices end, the task count above which it is not
 * tried, and tasks that ask for nothing.
 */

function group(size: Partial<Resources>, classIndex = 0): TaskGroup {
  return {
    key: `g${classIndex}`,
    classIndex,
    priority: 0,
    size: { cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0, ...size },
    tasks: [],
  };
}

/** `n` offerings of 4 CPUs, the first cheapest. */
function offerings(n: number): Offering[] {
  return Array.from({ length: n }, (_, i) =>
    offering({ instanceType: `o${i}`, capacity: { cpuMillis: 4000, memoryMiB: 8192 }, pricePerHourMicros: 1000 + i }),
  );
}

function input(groups: TaskGroup[], counts: number[], offers: Offering[]): PackingInput {
  return { groups, counts, offerings: offers, eligibility: new Uint8Array(2 * offers.length).fill(1), classCount: 2 };
}

/** Runs the steps, counting the slice ends (yields) before the result. */
function slices<T>(steps: Generator<void, T, void>): { result: T; yields: number } {
  let yields = 0;
  for (;;) {
    const next = steps.next();
    if (next.done) return { result: next.value, yields };
    yields++;
  }
}

describe('planner: the one-type baseline at its edges', () => {
  it('ends a slice after every 32 offerings tried, none before the first or after the last', () => {
    const one = [group({ cpuMillis: 1000 })];
    for (const [n, expected] of [
      [1, 0],
      [32, 0],
      [33, 1],
      [64, 1],
      [65, 2],
      [100, 3],
    ] as const) {
      const { result, yields } = slices(oneTypeSteps(input(one, [3], offerings(n)), [3]));
      assert.equal(yields, expected, `${n} offerings`);
      // Three one-CPU tasks on one instance of the cheapest offering.
      assert.deepEqual(result, { patterns: [{ offering: 0, items: [{ group: 0, count: 3 }], times: 1 }], costPerHourMicros: 1000 });
    }
    // Nothing to pack: no plan, and no slice.
    assert.deepEqual(slices(oneTypeSteps(input(one, [0], offerings(100)), [0])), { result: undefined, yields: 0 });
  });

  it(`plans up to ${ONE_TYPE_MAX_TASKS} tasks and no more`, () => {
    assert.equal(ONE_TYPE_MAX_TASKS, 2_000);
    const groups = [group({ cpuMillis: 1000 }), group({ cpuMillis: 2000 }, 1)];
    // 1,500 one-CPU and 500 two-CPU tasks on 4-CPU instances, first fit decreasing: the two-CPU tasks two to an
    // instance (250, full), then the one-CPU tasks four to an instance (375 more).
    const at = oneTypePacking(input(groups, [1_500, 500], offerings(2)), [1_500, 500]);
    assert.equal(at?.costPerHourMicros, (250 + 375) * 1000);
    assert.equal(oneTypePacking(input(groups, [1_501, 500], offerings(2)), [1_501, 500]), undefined);
    assert.equal(oneTypePacking(input(groups, [1_500, 501], offerings(2)), [1_500, 501]), undefined);
  });

  it('puts tasks that ask for nothing all on one instance', () => {
    const result = oneTypePacking(input([group({})], [7], offerings(1)), [7]);
    assert.deepEqual(result, { patterns: [{ offering: 0, items: [{ group: 0, count: 7 }], times: 1 }], costPerHourMicros: 1000 });
  });

  it('reads a missing count as none', () => {
    const groups = [group({ cpuMillis: 1000 }), group({ cpuMillis: 1000 }, 1)];
    const result = oneTypePacking(input(groups, [2], offerings(1)), [2]);
    assert.deepEqual(result, { patterns: [{ offering: 0, items: [{ group: 0, count: 2 }], times: 1 }], costPerHourMicros: 1000 });
  });
});
