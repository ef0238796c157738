import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { plan, planInstances } from '../../src/autoscaler/planner.ts';
import { offeringKey } from '../../src/core/offering.ts';
import type { Limits } from '../../src/core/policy.ts';
import { RESOURCE_KEYS } from '../../src/core/resources.ts';
import { fluidLowerBound, LOWER_BOUND_RELATIVE_TOLERANCE } from '../../src/cost-model/lower-bound.ts';
import { offeringAllowed } from '../../src/cost-model/price-book-filter.ts';
import { eligible, offeringHost } from '../../src/pool/builtin/eligibility.ts';
import { GRACE_MS, inputOf, instanceKey, NOW, RUNS, scenarioArb, sum, tally } from './planner-scenarios.ts';

describe('planner properties', function () {
  this.timeout(Math.max(60_000, RUNS * 300));

  it('plans only allowed offerings, fits every instance, honours constraints, limits and admission, and is deterministic', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const first = inputOf(s);
        const { instances, waiting } = planInstances(first.input);
        const again = planInstances(inputOf(s).input);
        assert.deepEqual(
          again.instances.map((i) => instanceKey(i.offering, i.tasks)),
          instances.map((i) => instanceKey(i.offering, i.tasks)),
        );
        assert.deepEqual(again.waiting, waiting);

        const seen = new Set<string>();
        const waitingIds = new Set(waiting.map((w) => w.taskId));
        for (const { offering: o, tasks } of instances) {
          assert.ok(s.offerings.includes(o), 'launches only offerings it was given');
          assert.ok(offeringAllowed(s.policy, o, s.unavailable), `${offeringKey(o)} is allowed`);
          assert.ok(!s.policy.paused);
          assert.ok(tasks.length > 0);
          const total = sum(tasks);
          for (const k of RESOURCE_KEYS)
            assert.ok(total[k] <= o.capacity[k], `${offeringKey(o)} holds its tasks in ${k}`);
          for (const t of tasks) {
            assert.ok(!seen.has(t.id), `${t.id} is in one instance only`);
            seen.add(t.id);
            assert.ok(!waitingIds.has(t.id), `${t.id} is not also waiting`);
            assert.ok(NOW - t.pendingSinceMs >= GRACE_MS, `${t.id} waited past the grace period`);
            assert.ok(!t.constraints.privateOnly, `${t.id} is private-only and never bursts`);
            assert.ok(
              o.lifecycle !== 'spot' || (t.revocable && s.policy.spot.allowed),
              `${t.id} on spot only when revocable and allowed`,
            );
            assert.ok(eligible(t, offeringHost(o)), `${t.id} may run on ${offeringKey(o)}`);
          }
        }

        const before = tally(s, []);
        const after = tally(
          s,
          instances.map((i) => i.offering),
        );
        const limits: [string, Limits][] = [['total', s.policy.limits], ...Object.entries(s.policy.providerLimits)];
        for (const [scope, l] of limits) {
          const t = after.get(scope);
          const added = (t?.instances ?? 0) - (before.get(scope)?.instances ?? 0);
          if (!t || added === 0) continue;
          assert.ok(
            t.instances <= l.maxInstances && t.vcpus <= l.maxVcpus && t.gpus <= l.maxGpus,
            `${scope} within its limits`,
          );
        }

        if (first.input.admitLaunch) {
          assert.deepEqual(
            [...first.admitted].sort(),
            instances.map((i) => instanceKey(i.offering, i.tasks)).sort(),
            'every instance was admitted',
          );
        }

        const launches = plan(inputOf(s).input).launches;
        const grouped = new Map<string, { count: number; ids: string[] }>();
        for (const i of instances) {
          const g = grouped.get(offeringKey(i.offering)) ?? { count: 0, ids: [] };
          g.count++;
          g.ids.push(...i.tasks.map((t) => t.id));
          grouped.set(offeringKey(i.offering), g);
        }
        assert.equal(launches.length, grouped.size);
        for (const l of launches) {
          const g = grouped.get(offeringKey(l.offering))!;
          assert.equal(l.count, g.count);
          assert.deepEqual([...l.taskIds].sort(), g.ids.sort());
          assert.ok(Math.abs(l.owners.reduce((a, o) => a + o.share, 0) - 1) < 1e-9, 'owner shares sum to one');
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('never costs less than the fluid lower bound of the tasks it launches for', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const { instances } = planInstances(inputOf(s).input);
        const covered = instances.flatMap((i) => i.tasks);
        const cost = instances.reduce((c, i) => c + i.offering.pricePerHourMicros, 0);
        const bound = await fluidLowerBound(covered, s.offerings, s.policy, { unavailable: s.unavailable });
        assert.deepEqual(bound.uncoveredTaskIds, []);
        assert.ok(
          cost >= bound.costPerHourMicros * (1 - LOWER_BOUND_RELATIVE_TOLERANCE) - 1e-6,
          `plan ${cost} >= bound ${bound.costPerHourMicros}`,
        );
      }),
      { numRuns: RUNS },
    );
  });
});
