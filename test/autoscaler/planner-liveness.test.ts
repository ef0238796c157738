import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, describe, it } from 'mocha';
import { plan } from '../../src/autoscaler/planner.ts';
import type { Offering } from '../../src/core/offering.ts';
import type { Limits } from '../../src/core/policy.ts';
import { RESOURCE_KEYS, type Resources } from '../../src/core/resources.ts';
import type { TaskHeader as Task } from '../../src/core/task.ts';
import { offeringAllowed } from '../../src/cost-model/price-book-filter.ts';
import { agentHost, eligible, offeringHost, type Host } from '../../src/pool/builtin/eligibility.ts';
import { GRACE_MS, inputOf, NOW, RUNS, scenarioArb, tally, type Scenario } from './planner-scenarios.ts';

/**
 * What the planner MUST do, not only what it must not: due work gets capacity. A planner that launches nothing, or
 * launches more than it needs, fails here.
 */

function fitsIn(r: Resources, capacity: Resources): boolean {
  return RESOURCE_KEYS.every((k) => r[k] <= capacity[k]);
}

/** Whether adding `extra` keeps every limit scope the extra instances count in within its limits. */
function withinLimits(s: Scenario, planned: readonly Offering[], extra: readonly Offering[]): boolean {
  const after = tally(s, [...planned, ...extra]);
  const touched = new Set(extra.flatMap((o) => ['total', o.providerId, o.provider]));
  const limits: [string, Limits][] = [['total', s.policy.limits], ...Object.entries(s.policy.providerLimits)];
  return limits.every(([scope, l]) => {
    const t = after.get(scope);
    return !touched.has(scope) || !t || (t.instances <= l.maxInstances && t.vcpus <= l.maxVcpus && t.gpus <= l.maxGpus);
  });
}

/** Offerings the policy allows that may run `task` and hold it alone. */
function hosts(s: Scenario, task: Task): Offering[] {
  return s.offerings.filter(
    (o) => offeringAllowed(s.policy, o, s.unavailable) && eligible(task, offeringHost(o)) && fitsIn(task.resources, o.capacity),
  );
}

/** Capacity on its way: provisioning agents and the instances of open launches no agent stands for yet. */
function inFlight(s: Scenario): { capacity: Resources; host: Host }[] {
  const bins: { capacity: Resources; host: Host }[] = [];
  for (const a of s.agents) if (a.state === 'provisioning') bins.push({ capacity: a.capacity, host: agentHost(a) });
  for (const l of s.openLaunches) {
    const adopted = s.agents.filter((a) => a.intentId === l.id).length;
    for (let i = adopted; i < l.count; i++) bins.push({ capacity: l.offering.capacity, host: offeringHost(l.offering) });
  }
  return bins;
}

/**
 * The naive baseline: every task on instances of one type, first fit in decreasing order of CPU, then memory, GPUs
 * and network. The cheapest type that holds every task, fits the limits and the budget; undefined when none does.
 */
function naiveCost(s: Scenario, tasks: readonly Task[]): number | undefined {
  const order = [...tasks].sort((a, b) => {
    for (const k of RESOURCE_KEYS) if (a.resources[k] !== b.resources[k]) return b.resources[k] - a.resources[k];
    return 0;
  });
  let best: number | undefined;
  for (const o of s.offerings) {
    if (!offeringAllowed(s.policy, o, s.unavailable)) continue;
    if (!tasks.every((t) => eligible(t, offeringHost(o)) && fitsIn(t.resources, o.capacity))) continue;
    const bins: Record<string, number>[] = [];
    for (const t of order) {
      let free = bins.find((f) => RESOURCE_KEYS.every((k) => t.resources[k] <= f[k]!));
      if (free === undefined) bins.push((free = { ...o.capacity }));
      for (const k of RESOURCE_KEYS) free[k] = free[k]! - t.resources[k];
    }
    const cost = bins.length * o.pricePerHourMicros;
    if (s.budgetMicros !== null && cost > s.budgetMicros) continue;
    if (!withinLimits(s, [], bins.map(() => o))) continue;
    if (best === undefined || cost < best) best = cost;
  }
  return best;
}

describe('planner liveness (property)', function () {
  this.timeout(Math.max(60_000, RUNS * 300));
  const seen = { runs: 0, launched: 0, waitingWithHost: 0, covered: 0, compared: 0 };
  after(() => console.log(`      planner liveness: ${JSON.stringify(seen)}`));

  it('launches for every due task some allowed offering fits within the limits and budget, or covers it in flight', () => {
    // Counted per run of this test: a runner that runs it again in one process (StrykerJS) must not sum the runs.
    Object.assign(seen, { runs: 0, launched: 0, waitingWithHost: 0, covered: 0 });
    fc.assert(
      fc.property(scenarioArb, (s) => {
        seen.runs++;
        const { input, spentMicros } = inputOf(s);
        const { launches, waiting } = plan(input);
        const planned = launches.flatMap((l) => Array.from({ length: l.count }, () => l.offering));
        const launchedFor = new Set(launches.flatMap((l) => l.taskIds));
        const waits = new Map(waiting.map((w) => [w.taskId, w.reason]));
        const due = s.tasks.filter((t) => NOW - t.pendingSinceMs >= GRACE_MS && !t.constraints.privateOnly);
        if (launchedFor.size > 0) seen.launched++;
        const covered: Task[] = [];
        for (const t of due) {
          if (launchedFor.has(t.id)) continue;
          const reason = waits.get(t.id);
          if (reason === undefined) {
            covered.push(t);
            continue;
          }
          if (s.policy.paused) continue;
          const open = hosts(s, t).filter(
            (o) =>
              withinLimits(s, planned, [o]) &&
              (s.budgetMicros === null || spentMicros() + o.pricePerHourMicros <= s.budgetMicros),
          );
          if (hosts(s, t).length > 0) seen.waitingWithHost++;
          assert.deepEqual(
            open.map((o) => `${o.providerId}/${o.instanceType}`),
            [],
            `${t.id} waits ("${reason}") though these offerings hold it within the limits and the budget`,
          );
        }
        // Tasks neither launched for nor waiting must be covered by capacity on its way.
        if (covered.length > 0) {
          seen.covered++;
          assert.ok(!s.policy.paused, 'a paused plan covers nothing');
          const bins = inFlight(s);
          const total: Record<string, number> = { cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 };
          for (const b of bins) for (const k of RESOURCE_KEYS) total[k]! += b.capacity[k];
          const need: Record<string, number> = { cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 };
          for (const t of covered) {
            for (const k of RESOURCE_KEYS) need[k]! += t.resources[k];
            assert.ok(
              bins.some((b) => fitsIn(t.resources, b.capacity) && eligible(t, b.host)),
              `${t.id} is neither launched for nor waiting, and no capacity on its way could run it`,
            );
          }
          for (const k of RESOURCE_KEYS) {
            assert.ok(need[k]! <= total[k]!, `covered tasks need ${need[k]} ${k}, capacity on its way has ${total[k]}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
    assert.ok(seen.launched >= seen.runs / 4, `at least a quarter of the runs launch: ${JSON.stringify(seen)}`);
  });

  it('never costs more than one instance type would for the same tasks, where limits and budget did not change the plan', () => {
    seen.compared = 0;
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { input } = inputOf(s);
        const { launches, waiting } = plan(input);
        const tasks = s.tasks.filter((t) => launches.some((l) => l.taskIds.includes(t.id)));
        if (tasks.length === 0) return;
        // Compared where neither the limits nor the budget changed the plan: it then chose freely. (Where a limit
        // refuses the packed offering, the replacement can cost more than one type would: a known gap.)
        const byId = new Map(s.tasks.map((t) => [t.id, t]));
        if (waiting.some((w) => hosts(s, byId.get(w.taskId)!).length > 0)) return;
        const roomy = 1_000_000_000;
        const free = plan(
          inputOf({ ...s, budgetMicros: null, policy: { ...s.policy, limits: { maxInstances: roomy, maxVcpus: roomy, maxGpus: roomy }, providerLimits: {} } }).input,
        );
        const key = (ls: typeof launches): string => JSON.stringify(ls.map((l) => [l.offering.providerId, l.offering.instanceType, l.count, l.taskIds]));
        if (key(free.launches) !== key(launches)) return;
        const cost = launches.reduce((c, l) => c + l.count * l.offering.pricePerHourMicros, 0);
        const naive = naiveCost(s, tasks);
        if (naive === undefined) return;
        seen.compared++;
        assert.ok(cost <= naive, `the plan costs ${cost} micro-USD/h, one instance type ${naive}`);
      }),
      { numRuns: RUNS },
    );
    assert.ok(seen.compared > 0, 'some plans were compared');
  });
});
