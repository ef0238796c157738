import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, describe, it } from 'mocha';
import type { Offering } from '../../src/core/offering.ts';
import { resources } from '../../src/core/resources.ts';
import { periodWindow, type Budget, type BudgetScope } from '../../src/cost-model/budget.ts';
import type { TimeWindow } from '../../src/cost-model/ledger.ts';
import { simulate, type SimResult, type SimSpec } from './budget-sim.ts';
import { HOUR, owner, propertyRuns, SECOND } from './ledger-builders.ts';
import { scopeSpendBound, type BilledInstance, type TaskRun } from './spend-oracle.ts';

const OWNERS = [owner('a', 'p1', 'j1'), owner('a', 'p2', 'j2'), owner('b', 'p1', 'j3'), owner('b', 'p3', 'j4')];
const SCOPES: BudgetScope[] = [
  { kind: 'global' },
  { kind: 'team', team: 'a' },
  { kind: 'team', team: 'b' },
  { kind: 'project', project: 'p1' },
  { kind: 'project', team: 'a', project: 'p2' },
];

/** 10 minutes before midnight on the last day of January: hours, the day and the month all roll over. */
const NEAR_ROLLOVER = Date.UTC(2026, 0, 31, 23, 50);

const PLACES = [
  { provider: 'aws-ec2', region: 'us-east-1' },
  { provider: 'aws-ec2', region: 'eu-west-1' },
  { provider: 'gcp-compute', region: 'us-central1' },
  { provider: 'gcp-compute', region: 'europe-west4' },
  { provider: 'local', region: 'local' },
] as const;

function offeringArb(index: number): fc.Arbitrary<Offering> {
  return fc
    .record({
      cpus: fc.integer({ min: 1, max: 8 }),
      gpus: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
      // 100 to 1,000 micro-USD a second, with odd prices so bills and shares have fractions.
      price: fc.integer({ min: 360_001, max: 3_600_000 }),
      lifecycle: fc.constantFrom('on-demand' as const, 'spot' as const),
      place: fc.constantFrom(...PLACES),
    })
    .map((o) => ({
      providerId: `${o.place.provider}:${o.place.region}`,
      provider: o.place.provider,
      region: o.place.region,
      zone: `${o.place.region}-a`,
      instanceType: `type-${index}`,
      capacity: resources({ cpuMillis: o.cpus * 1000, memoryMiB: o.cpus * 4096, gpus: o.gpus }),
      lifecycle: o.lifecycle,
      pricePerHourMicros: o.gpus > 0 ? o.price * 4 + 1 : o.price,
      bootMs: 0,
      gpuModel: o.gpus > 0 ? 'A100-40GB' : null,
      labels: {},
      available: true,
    }));
}

/** A budget whose cap is a fraction of what its scope spends with no cap at all (worked out per run below). */
const budgetArb = fc.record({
  scope: fc.constantFrom(...SCOPES),
  period: fc.constantFrom('hour' as const, 'day' as const, 'month' as const, 'burn' as const),
  capFraction: fc.oneof(
    { weight: 8, arbitrary: fc.double({ min: 0.95, max: 1.05, noNaN: true }) },
    { weight: 2, arbitrary: fc.double({ min: 0.3, max: 0.95, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: 0.3, noNaN: true }) },
  ),
  onCap: fc.constantFrom('preempt' as const, 'preempt' as const, 'preempt' as const, 'finish' as const),
});

const uncappedArb = fc
  .record({
    startOffsetMs: fc.integer({ min: 0, max: 20 * 60_000 }),
    timing: fc.record({
      passIntervalMs: fc.constantFrom(5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND),
      terminationAllowanceMs: fc.integer({ min: 0, max: 60 * SECOND }),
      launchAllowanceMs: fc.integer({ min: 0, max: 60 * SECOND }),
    }),
    // The first a hard cap on a scope that nearly always spends (so every run has a cap to reach), then up to three more.
    budgets: fc
      .tuple(
        fc
          .tuple(budgetArb, fc.constantFrom<BudgetScope>({ kind: 'global' }, { kind: 'team', team: 'a' }, { kind: 'team', team: 'b' }))
          .map(([b, scope]) => ({ ...b, scope, onCap: 'preempt' as const })),
        fc.array(budgetArb, { maxLength: 3 }),
      )
      .map(([first, rest]) => [first, ...rest]),
    offerings: fc
      .tuple(offeringArb(0), offeringArb(1), offeringArb(2), offeringArb(3), offeringArb(4))
      .chain((all) =>
        fc
          .integer({ min: 1, max: 5 })
          .map((n) => all.slice(0, n).sort((x, y) => x.pricePerHourMicros - y.pricePerHourMicros)),
      ),
    tasks: fc.array(
      fc.record({
        owner: fc.constantFrom(...OWNERS),
        resources: fc
          .record({
            cpus: fc.integer({ min: 1, max: 8 }),
            gpus: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
          })
          .map((r) => resources({ cpuMillis: r.cpus * 500, memoryMiB: r.cpus * 1024, gpus: r.gpus })),
        arriveAtPass: fc.integer({ min: 0, max: 30 }),
        durationMs: fc.integer({ min: 1 * SECOND, max: 40 * 60 * SECOND }),
      }),
      { minLength: 1, maxLength: 40 },
    ),
    activePasses: fc.integer({ min: 5, max: 120 }),
    idleTtlMs: fc.integer({ min: 0, max: 120 * SECOND }),
    bootMs: fc.integer({ min: 0, max: 60 * SECOND }),
    // Delays of launches and stops: often the longest the allowances permit, where the caps are tightest.
    delays: fc.array(
      fc.oneof(fc.constant(0.999_999), fc.double({ min: 0, max: 0.999_999, noNaN: true })),
      { minLength: 1, maxLength: 16 },
    ),
  })
  .map(({ startOffsetMs, budgets, ...rest }) => ({
    spec: { ...rest, startMs: NEAR_ROLLOVER + startOffsetMs, budgets: [] as Budget[] },
    budgets,
  }));

/**
 * Runs with caps the workload reaches: the run is first simulated without budgets, and each cap set to a fraction of
 * the most its scope then spent in one of its windows (by the oracle).
 */
const specArb: fc.Arbitrary<SimSpec> = uncappedArb.map(({ spec, budgets }) => {
  const free = simulate(spec);
  return {
    ...spec,
    budgets: budgets.map((b, i) => {
      const budget: Budget = { id: `bud-${i}`, name: `b${i}`, scope: b.scope, period: b.period, capMicros: 0, onCap: b.onCap, createdAtMs: 0, updatedAtMs: 0 };
      const most = Math.max(0, ...windowsOf(budget, free, spec.startMs).map((w) => spend(free, b.scope, w).boundMicros));
      return { ...budget, capMicros: Math.floor(most * b.capFraction) };
    }),
  };
});

/** The run as the oracle sees it: each instance's billed life and each task run. */
function billed(result: SimResult): { instances: BilledInstance[]; runs: TaskRun[] } {
  return {
    instances: result.agents.map((a) => ({
      id: a.agentId,
      provider: a.provider,
      spot: a.lifecycle === 'spot',
      pricePerHourMicros: a.pricePerHourMicros,
      startMs: a.startMs,
      endMs: a.endMs ?? result.endMs,
      owners: a.owners,
    })),
    runs: result.usage.map((u) => ({
      instanceId: u.agentId,
      owner: u.owner,
      share: u.share,
      startMs: u.startMs,
      endMs: u.endMs ?? result.endMs,
    })),
  };
}

/** A scope's cloud spend in a window, recomputed by the oracle from what the run recorded. */
function spend(result: SimResult, scope: BudgetScope, window: TimeWindow): { boundMicros: number; exactMicros: number } {
  const { instances, runs } = billed(result);
  return scopeSpendBound(scope, instances, runs, window.fromMs, window.toMs);
}

/** Every window a budget's cap applied to during the run. */
function windowsOf(budget: Budget, result: SimResult, startMs: number): TimeWindow[] {
  if (budget.period === 'burn') {
    const instants = new Set<number>([...result.passTimes, result.endMs]);
    for (const a of result.agents) for (const t of [a.startMs, a.endMs ?? result.endMs]) instants.add(t);
    for (const u of result.usage) for (const t of [u.startMs, u.endMs ?? result.endMs]) instants.add(t);
    return [...instants].flatMap((t) => [t, t + HOUR]).map((t) => periodWindow('burn', t));
  }
  const windows: TimeWindow[] = [];
  for (
    let w = periodWindow(budget.period, startMs);
    w.fromMs <= result.endMs;
    w = periodWindow(budget.period, w.toMs)
  ) {
    windows.push(w);
  }
  return windows;
}

describe('budgets on a simulated clock (property)', function () {
  this.timeout(600_000);
  const tally = { runs: 0, nearCap: 0, stoppedTasks: 0, terminatedAgents: 0, refusals: 0, launches: 0, closest: 0 };
  after(() => {
    // How often the caps bound, so a green run is not a vacuous one.
    console.log(`      budget property: ${JSON.stringify(tally)}`);
  });

  it('never lets a preempt scope’s spend pass its cap in any period, in-flight launches and minimum bills included', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const result = simulate(spec);
        tally.runs++;
        tally.stoppedTasks += result.stoppedTasks;
        tally.terminatedAgents += result.terminatedAgents;
        tally.refusals += result.refusals;
        tally.launches += result.launches;
        let nearest = 0;
        for (const budget of spec.budgets) {
          for (const window of windowsOf(budget, result, spec.startMs)) {
            const { boundMicros } = spend(result, budget.scope, window);
            if (budget.onCap !== 'preempt') continue;
            if (budget.capMicros > 0) nearest = Math.max(nearest, boundMicros / budget.capMicros);
            assert.ok(
              boundMicros <= budget.capMicros,
              `${budget.name} (${JSON.stringify(budget.scope)}, ${budget.period}) spent up to ${boundMicros} > cap ${budget.capMicros} in [${new Date(window.fromMs).toISOString()}, ${new Date(window.toMs).toISOString()})`,
            );
          }
        }
        tally.closest = Math.max(tally.closest, nearest);
        if (nearest >= 0.9) tally.nearCap++;
      }),
      { numRuns: propertyRuns() },
    );
    assert.ok(tally.launches > 0 && tally.stoppedTasks > 0 && tally.terminatedAgents > 0, JSON.stringify(tally));
    assert.ok(tally.nearCap >= tally.runs / 3, `a third of the runs end within 10% of a cap: ${JSON.stringify(tally)}`);
  });
});
