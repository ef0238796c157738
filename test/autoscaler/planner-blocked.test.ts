import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { plan, type PlanInput } from '../../src/autoscaler/planner.ts';
import { offeringKey } from '../../src/core/offering.ts';
import { offering, policy, T0, task } from '../fakes/builders.ts';

const small = offering({ instanceType: 'local.small', pricePerHourMicros: 100_000 });
const large = offering({
  instanceType: 'local.large',
  capacity: { cpuMillis: 8000, memoryMiB: 16384 },
  pricePerHourMicros: 300_000,
});
const SMALL_HELD = 'local:test refuses launches of local.small in local-a (on-demand): InvalidParameterValue; next try 00:05';
const LARGE_HELD = 'local:test refuses launches: AuthFailure; next try 00:05';

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    nowMs: T0 + 10_000,
    policy: policy(),
    pending: [task()],
    agents: [],
    openLaunches: [],
    offerings: [small, large],
    unavailable: new Set(),
    ...overrides,
  };
}

describe('planner with launch breakers', () => {
  it('skips an offering a breaker holds and launches the next cheapest', () => {
    const result = plan(input({ blocked: new Map([[offeringKey(small), SMALL_HELD]]) }));
    assert.deepEqual(result.launches.map((l) => l.offering.instanceType), ['local.large']);
    assert.deepEqual(result.waiting, []);
  });

  it("gives waiting tasks the breaker's reason when only held offerings would fit them", () => {
    const t = task();
    const result = plan(
      input({
        pending: [t],
        blocked: new Map([
          [offeringKey(small), SMALL_HELD],
          [offeringKey(large), LARGE_HELD],
        ]),
      }),
    );
    assert.deepEqual(result.launches, []);
    assert.deepEqual(result.waiting, [{ taskId: t.id, reason: SMALL_HELD }], 'the cheapest held offering that fits');
  });

  it('keeps the usual reason when no held offering would fit either', () => {
    const huge = task({ resources: { cpuMillis: 64_000 } });
    const result = plan(input({ pending: [huge], blocked: new Map([[offeringKey(small), SMALL_HELD]]) }));
    assert.match(result.waiting[0]!.reason, /^no allowed offering fits/);
  });
});
