import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, describe, it } from 'mocha';
import type { Offering } from '../../src/core/offering.ts';
import { resources } from '../../src/core/resources.ts';
import { attributeAgent, CLOUD_CATEGORIES } from '../../src/cost-model/attribution.ts';
import { periodWindow, scopeContains, type Budget, type BudgetScope } from '../../src/cost-model/budget.ts';
import { usageByAgent, type TimeWindow } from '../../src/cost-model/ledger.ts';
import { simulate, type SimResult, type SimSpec } from './budget-sim.ts';
import { HOUR, owner, propertyRuns, SECOND } from './ledger-builders.ts';

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

function offeringArb(index: number): fc.Arbitrary<Offering> {
  return fc
    .record({
      cpus: fc.integer({ min: 1, max: 8 }),
      // 100 to 1,000 micro-USD a second.
      price: fc.integer({ min: 360_000, max: 3_600_000 }),
      lifecycle: fc.constantFrom('on-demand' as const, 'spot' as const),
      provider: fc.constantFrom('aws-ec2', 'gcp-compute', 'local'),
    })
    .map((o) => ({
      providerId: `${o.provider}:r`,
      provider: o.provider,
      region: 'r',
      zone: 'r-a',
      instanceType: `type-${index}`,
      capacity: resources({ cpuMillis: o.cpus * 1000, memoryMiB: o.cpus * 4096 }),
      lifecycle: o.lifecycle,
      pricePerHourMicros: o.price,
      bootMs: 0,
      gpuModel: null,
      labels: {},
      available: true,
    }));
}

const budgetArb: fc.Arbitrary<Budget> = fc
  .record({
    scope: fc.constantFrom(...SCOPES),
    period: fc.constantFrom('hour' as const, 'day' as const, 'month' as const, 'burn' as const),
    capMicros: fc.oneof(
      fc.integer({ min: 0, max: 20_000 }),
      fc.integer({ min: 0, max: 300_000 }),
      fc.integer({ min: 0, max: 3_000_000 }),
    ),
    onCap: fc.constantFrom('preempt' as const, 'preempt' as const, 'preempt' as const, 'finish' as const),
  })
  .map((b) => ({ ...b, id: '', name: '', createdAtMs: 0, updatedAtMs: 0 }));

const specArb: fc.Arbitrary<SimSpec> = fc
  .record({
    startOffsetMs: fc.integer({ min: 0, max: 20 * 60_000 }),
    timing: fc.record({
      passIntervalMs: fc.constantFrom(5 * SECOND, 15 * SECOND, 30 * SECOND, 60 * SECOND),
      terminationAllowanceMs: fc.integer({ min: 0, max: 90 * SECOND }),
      launchAllowanceMs: fc.integer({ min: 0, max: 90 * SECOND }),
    }),
    budgets: fc.array(budgetArb, { minLength: 1, maxLength: 4 }),
    offerings: fc
      .tuple(offeringArb(0), offeringArb(1), offeringArb(2), offeringArb(3))
      .chain((all) =>
        fc
          .integer({ min: 1, max: 4 })
          .map((n) => all.slice(0, n).sort((x, y) => x.pricePerHourMicros - y.pricePerHourMicros)),
      ),
    tasks: fc.array(
      fc.record({
        owner: fc.constantFrom(...OWNERS),
        resources: fc.integer({ min: 1, max: 8 }).map((c) => resources({ cpuMillis: c * 500, memoryMiB: c * 1024 })),
        arriveAtPass: fc.integer({ min: 0, max: 30 }),
        durationMs: fc.integer({ min: 1 * SECOND, max: 30 * 60 * SECOND }),
      }),
      { maxLength: 50 },
    ),
    activePasses: fc.integer({ min: 1, max: 40 }),
    idleTtlMs: fc.integer({ min: 0, max: 120 * SECOND }),
    bootMs: fc.integer({ min: 0, max: 60 * SECOND }),
    delays: fc.array(fc.double({ min: 0, max: 0.999_999, noNaN: true }), { minLength: 1, maxLength: 16 }),
  })
  .map(({ startOffsetMs, budgets, ...rest }) => ({
    ...rest,
    startMs: NEAR_ROLLOVER + startOffsetMs,
    budgets: budgets.map((b, i) => ({ ...b, id: `bud-${i}`, name: `b${i}` })),
  }));

/** A scope's cloud spend in a window, attributed after the fact from everything the run recorded. */
function spend(result: SimResult, scope: BudgetScope, window: TimeWindow): number {
  const usage = usageByAgent(result.usage);
  let total = 0;
  for (const agent of result.agents) {
    for (const c of attributeAgent(
      agent,
      usage.get(agent.agentId) ?? [],
      window,
      result.endMs,
      agent.pricePerHourMicros,
    )) {
      if (CLOUD_CATEGORIES.has(c.category) && scopeContains(scope, c.owner)) total += c.micros;
    }
  }
  return total;
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
  const tally = { runs: 0, stoppedTasks: 0, terminatedAgents: 0, refusals: 0, launches: 0, closest: 0 };
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
        for (const budget of spec.budgets) {
          if (budget.onCap !== 'preempt') continue;
          for (const window of windowsOf(budget, result, spec.startMs)) {
            const spent = spend(result, budget.scope, window);
            if (budget.capMicros > 0) tally.closest = Math.max(tally.closest, spent / budget.capMicros);
            assert.ok(
              spent <= budget.capMicros,
              `${budget.name} (${JSON.stringify(budget.scope)}, ${budget.period}) spent ${spent} > cap ${budget.capMicros} in [${new Date(window.fromMs).toISOString()}, ${new Date(window.toMs).toISOString()})`,
            );
          }
        }
      }),
      { numRuns: propertyRuns() },
    );
    const bound = tally.stoppedTasks > 0 && tally.terminatedAgents > 0;
    assert.ok(tally.launches > 0 && (tally.runs < 200 || bound), JSON.stringify(tally));
  });
});
