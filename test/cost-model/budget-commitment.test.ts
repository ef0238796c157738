import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import type { Budget, BudgetScope } from '../../src/cost-model/budget.ts';
import { openBudgetBook } from '../../src/cost-model/budgets.ts';
import type { AgentInterval, UsageInterval } from '../../src/cost-model/ledger.ts';
import { owner, propertyRuns, SECOND } from './ledger-builders.ts';
import { scopeSpendBound, type BilledInstance, type TaskRun } from './spend-oracle.ts';

/**
 * What a budget book says a scope has spent plus what it has committed must cover the most the scope can be charged
 * if nothing is stopped before the horizon (the next pass plus the termination allowance). The most is the oracle's:
 * the scope's exact charges at the horizon, each part rounded up to whole micro-USD, as finance's report would
 * charge it. A book that forgets that rounding (an allowance of 0) under-reserves, and a hard cap can be passed.
 */

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 4, 12, 12, 0, 0);
const OWNERS = [owner('a', 'p1', 'j1'), owner('a', 'p2', 'j2'), owner('b', 'p1', 'j3'), owner('b', 'p2', 'j4'), owner('a', 'p1', 'j5')];
const SCOPES: BudgetScope[] = [
  { kind: 'global' },
  { kind: 'team', team: 'a' },
  { kind: 'team', team: 'b' },
  { kind: 'project', project: 'p1' },
  { kind: 'project', team: 'a', project: 'p1' },
];

const agentArb = fc.record({
  ageMs: fc.integer({ min: 0, max: 900 * SECOND }),
  price: fc.integer({ min: 36_001, max: 5_000_000 }),
  provider: fc.constantFrom('aws-ec2', 'gcp-compute', 'local'),
  spot: fc.boolean(),
  owners: fc.array(fc.record({ who: fc.nat({ max: OWNERS.length - 1 }), weight: fc.integer({ min: 1, max: 7 }) }), { minLength: 1, maxLength: 4 }),
  runs: fc.array(
    fc.record({
      who: fc.nat({ max: OWNERS.length - 1 }),
      sevenths: fc.integer({ min: 1, max: 7 }),
      startFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      endFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    }),
    { maxLength: 5 },
  ),
});

const caseArb = fc.record({
  agents: fc.array(agentArb, { minLength: 1, maxLength: 3 }),
  passIntervalMs: fc.integer({ min: 1 * SECOND, max: 60 * SECOND }),
  terminationAllowanceMs: fc.integer({ min: 0, max: 90 * SECOND }),
});

describe('budget book commitments (property)', () => {
  it('commits, with what is spent, at least the most each scope can be charged by the horizon', () => {
    let binding = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const horizonMs = c.passIntervalMs + c.terminationAllowanceMs;
        const agents: AgentInterval[] = [];
        const usage: UsageInterval[] = [];
        const instances: BilledInstance[] = [];
        const runs: TaskRun[] = [];
        c.agents.forEach((a, i) => {
          const startMs = NOW - a.ageMs;
          const owners = a.owners.map((o) => ({ owner: OWNERS[o.who]!, share: o.weight }));
          agents.push({
            agentId: `a-${i}`,
            name: `a-${i}`,
            location: { kind: 'cloud', provider: a.provider, region: 'r', zone: 'r-a' },
            provider: a.provider,
            providerId: `${a.provider}:r`,
            instanceId: `i-${i}`,
            instanceType: 't',
            lifecycle: a.spot ? 'spot' : 'on-demand',
            pricePerHourMicros: a.price,
            capacity: resources({ cpuMillis: 7000, memoryMiB: 7168 }),
            intentId: `intent-${i}`,
            owners,
            startMs,
            endMs: null,
          });
          // The one future checked: it runs on, with every open task, until the horizon.
          instances.push({ id: `a-${i}`, provider: a.provider, spot: a.spot, pricePerHourMicros: a.price, startMs, endMs: NOW + horizonMs, owners });
          a.runs.forEach((r, k) => {
            const from = startMs + Math.floor(r.startFraction * a.ageMs);
            const to = r.endFraction === null ? null : Math.max(from, startMs + Math.floor(r.endFraction * a.ageMs));
            const share = r.sevenths / 7;
            usage.push({ id: usage.length + 1, taskId: `t-${i}-${k}`, agentId: `a-${i}`, owner: OWNERS[r.who]!, share, startMs: from, endMs: to });
            runs.push({ instanceId: `a-${i}`, owner: OWNERS[r.who]!, share, startMs: from, endMs: to ?? NOW + horizonMs });
          });
        });
        const budgets: Budget[] = SCOPES.map((scope, i) => ({
          id: `b-${i}`,
          name: `b${i}`,
          scope,
          period: 'day',
          capMicros: 1e12,
          onCap: 'finish',
          createdAtMs: 0,
          updatedAtMs: 0,
        }));
        const book = openBudgetBook({
          nowMs: NOW,
          budgets,
          ledger: { agents, usage },
          openLaunches: [],
          timing: { passIntervalMs: c.passIntervalMs, terminationAllowanceMs: c.terminationAllowanceMs, launchAllowanceMs: 0 },
        });
        const dayFrom = Math.floor(NOW / DAY) * DAY;
        for (const status of book.statuses()) {
          const { boundMicros, exactMicros } = scopeSpendBound(status.budget.scope, instances, runs, dayFrom, dayFrom + DAY);
          const covered = status.spentMicros + status.committedMicros;
          if (boundMicros > Math.ceil(exactMicros)) binding++;
          assert.ok(
            covered >= boundMicros,
            `${JSON.stringify(status.budget.scope)}: spent ${status.spentMicros} + committed ${status.committedMicros} = ${covered} < up to ${boundMicros} (exact ${exactMicros.toFixed(3)})`,
          );
        }
      }),
      { numRuns: propertyRuns() },
    );
    // Rounding must matter in the runs for this to test anything.
    assert.ok(binding > 0, 'some scope could be charged more than its exact spend rounded up');
  });
});
