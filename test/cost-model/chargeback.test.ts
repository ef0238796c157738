import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import type { Lifecycle } from '../../src/core/agent.ts';
import {
  chargeback,
  chargebackLedgerTotal,
  type ChargebackBy,
  type ChargebackRow,
} from '../../src/cost-model/chargeback.ts';
import { ledgerTotalMicros, type AgentInterval, type UsageInterval } from '../../src/cost-model/ledger.ts';
import {
  cloudInterval,
  HOUR,
  MINUTE,
  owner,
  privateInterval,
  propertyRuns,
  SECOND,
  T0,
  usage,
} from './ledger-builders.ts';

const A = owner('team-a', 'vision', 'train');
const A2 = owner('team-a', 'vision', 'eval');
const B = owner('team-b', 'search', 'index');
const RATE = (): number => 720_000;

function row(rows: readonly ChargebackRow[], team: string): Omit<ChargebackRow, 'team' | 'project' | 'job'> {
  const found = rows.find((r) => r.team === team);
  assert.ok(found, `no row for ${team}`);
  const { team: _t, project: _p, job: _j, ...money } = found;
  return money;
}

describe('chargeback', () => {
  // Two on-demand agents and a spot one at 100 micro-USD a second, launched for both teams, and a private rack.
  const od1 = cloudInterval({
    owners: [
      { owner: A, share: 0.5 },
      { owner: B, share: 0.5 },
    ],
  });
  const od2 = cloudInterval({ endMs: T0 + 30 * MINUTE, owners: [{ owner: A, share: 1 }] });
  const spot = cloudInterval({ lifecycle: 'spot', endMs: T0 + 10 * MINUTE, owners: [{ owner: B, share: 1 }] });
  const rack = privateInterval();
  const ledger = {
    agents: [od1, od2, spot, rack],
    usage: [
      usage(od1, A, 0.5, T0, T0 + HOUR),
      usage(od1, B, 0.25, T0, T0 + 30 * MINUTE),
      usage(od2, B, 0.5, T0, T0 + 30 * MINUTE),
      usage(spot, A2, 1, T0, T0 + 5 * MINUTE),
      usage(rack, B, 0.5, T0, T0 + HOUR),
    ],
  };
  const input = { ledger, window: { fromMs: T0, toMs: T0 + HOUR }, nowMs: T0 + 2 * HOUR, privateRate: RATE };

  it('gives two teams sharing agents exactly their share, private and cloud side by side', () => {
    const report = chargeback({ ...input, by: 'team' });
    // od1: A 180,000 + idle 67,500; B 45,000 + idle 67,500 (see the attribution tests).
    // od2 (30 min, 180,000): B's task 90,000; idle 90,000 to A. spot (10 min, 60,000): A 30,000; idle 30,000 to B.
    // rack (1 h at $0.72/h): B 360,000 private; the unused half to (unattributed).
    assert.deepEqual(row(report.rows, 'team-a'), {
      privateMicros: 0,
      onDemandMicros: 180_000,
      spotMicros: 30_000,
      idleMicros: 67_500 + 90_000,
      cloudMicros: 367_500,
      totalMicros: 367_500,
    });
    assert.deepEqual(row(report.rows, 'team-b'), {
      privateMicros: 360_000,
      onDemandMicros: 45_000 + 90_000,
      spotMicros: 0,
      idleMicros: 67_500 + 30_000,
      cloudMicros: 232_500,
      totalMicros: 592_500,
    });
    assert.deepEqual(row(report.rows, '(unattributed)'), {
      privateMicros: 360_000,
      onDemandMicros: 0,
      spotMicros: 0,
      idleMicros: 0,
      cloudMicros: 0,
      totalMicros: 360_000,
    });
    assert.equal(report.totals.totalMicros, ledgerTotalMicros(ledger, input.window, input.nowMs, RATE));
    assert.deepEqual(
      report.rows.map((r) => r.team),
      ['team-b', 'team-a', '(unattributed)'],
      'costliest first',
    );
  });

  it('groups by project and by job within the team', () => {
    const byJob = chargeback({ ...input, by: 'job' });
    const jobs = byJob.rows.filter((r) => r.team === 'team-a').map((r) => [r.project, r.job, r.totalMicros]);
    assert.deepEqual(jobs, [
      ['vision', 'train', 337_500],
      ['vision', 'eval', 30_000],
    ]);
    const byProject = chargeback({ ...input, by: 'project' });
    assert.deepEqual(
      byProject.rows.filter((r) => r.team === 'team-a').map((r) => [r.project, r.job, r.totalMicros]),
      [['vision', null, 367_500]],
    );
  });

  it('leaves out groups that cost nothing in the window', () => {
    const report = chargeback({ ...input, window: { fromMs: T0 + 3 * HOUR, toMs: T0 + 4 * HOUR }, by: 'team' });
    assert.deepEqual(report.rows, []);
    assert.equal(report.totals.totalMicros, 0);
  });

  describe('grouping and order among equal costs', () => {
    // Six agents idle for an hour at 100 micro-USD a second (360,000 each), each launched for one job, listed in
    // neither the order the report must use nor its reverse (team-b's p1 jobs in order, team-c's reversed).
    const jobs = [
      owner('team-b', 'p1', 'j1'),
      owner('team-b', 'p2', 'j1'),
      owner('team-a', 'p9', 'j9'),
      owner('team-b', 'p1', 'j2'),
      owner('team-c', 'q', 'j2'),
      owner('team-c', 'q', 'j1'),
    ];
    const idle = { agents: jobs.map((o) => cloudInterval({ owners: [{ owner: o, share: 1 }] })), usage: [] };
    const window = { fromMs: T0, toMs: T0 + HOUR };
    const report = (by: ChargebackBy) =>
      chargeback({ ledger: idle, window, nowMs: T0 + HOUR, by, privateRate: RATE }).rows.map((r) => [
        r.team,
        r.project,
        r.job,
        r.totalMicros,
      ]);

    it('orders groups that cost the same by team, then project, then job', () => {
      assert.deepEqual(report('job'), [
        ['team-a', 'p9', 'j9', 360_000],
        ['team-b', 'p1', 'j1', 360_000],
        ['team-b', 'p1', 'j2', 360_000],
        ['team-b', 'p2', 'j1', 360_000],
        ['team-c', 'q', 'j1', 360_000],
        ['team-c', 'q', 'j2', 360_000],
      ]);
      assert.deepEqual(report('project'), [
        ['team-b', 'p1', null, 720_000],
        ['team-c', 'q', null, 720_000],
        ['team-a', 'p9', null, 360_000],
        ['team-b', 'p2', null, 360_000],
      ]);
    });

    it('puts all of a team’s projects in one row when grouping by team', () => {
      assert.deepEqual(report('team'), [
        ['team-b', null, null, 1_080_000],
        ['team-c', null, null, 720_000],
        ['team-a', null, null, 360_000],
      ]);
    });

    it('gives the ledger’s total for the window as the figure a report must match', () => {
      // 6 x 360,000 in the hour; half of that in its first half hour.
      assert.equal(chargebackLedgerTotal({ ledger: idle, window, nowMs: T0 + HOUR, privateRate: RATE }), 2_160_000);
      const half = { fromMs: T0, toMs: T0 + 30 * MINUTE };
      assert.equal(
        chargebackLedgerTotal({ ledger: idle, window: half, nowMs: T0 + HOUR, privateRate: RATE }),
        1_080_000,
      );
    });
  });

  it('totals exactly the ledger’s billed total over any window, for every grouping (property)', () => {
    const owners = [A, A2, B, owner('team-c', 'x', 'y')];
    const ownerArb = fc.constantFrom(...owners);
    const agentArb = fc.record({
      startS: fc.integer({ min: 0, max: 7_200 }),
      lifeMs: fc.option(fc.integer({ min: 0, max: 3 * HOUR }), { nil: null }),
      lifecycle: fc.constantFrom<Lifecycle>('on-demand', 'spot', 'private'),
      price: fc.integer({ min: 1, max: 50_000_000 }),
      owners: fc.array(fc.record({ owner: ownerArb, share: fc.double({ min: 0, max: 1, noNaN: true }) }), {
        maxLength: 3,
      }),
      runs: fc.array(
        fc.record({
          owner: ownerArb,
          share: fc.double({ min: 0, max: 1.5, noNaN: true }),
          offsetMs: fc.integer({ min: 0, max: 2 * HOUR }),
          lengthMs: fc.option(fc.integer({ min: 0, max: 2 * HOUR }), { nil: null }),
        }),
        { maxLength: 8 },
      ),
    });
    fc.assert(
      fc.property(
        fc.array(agentArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: -HOUR, max: 5 * HOUR }),
        fc.integer({ min: 1, max: 6 * HOUR }),
        fc.integer({ min: 0, max: 6 * HOUR }),
        fc.integer({ min: 0, max: 5_000_000 }),
        (specs, fromOffsetMs, lengthMs, nowOffsetMs, privatePerHour) => {
          const agents: AgentInterval[] = [];
          const runs: UsageInterval[] = [];
          for (const spec of specs) {
            const startMs = T0 + spec.startS * SECOND + (spec.startS % 7);
            const base = spec.lifecycle === 'private' ? privateInterval() : cloudInterval();
            const agent: AgentInterval = {
              ...base,
              lifecycle: spec.lifecycle,
              pricePerHourMicros: spec.lifecycle === 'private' ? 0 : spec.price,
              owners: spec.owners,
              startMs,
              endMs: spec.lifeMs === null ? null : startMs + spec.lifeMs,
            };
            agents.push(agent);
            for (const r of spec.runs) {
              const runStart = startMs + r.offsetMs;
              const runEnd = r.lengthMs === null ? null : runStart + r.lengthMs;
              runs.push(usage(agent, r.owner, r.share, runStart, runEnd));
            }
          }
          const window = { fromMs: T0 + fromOffsetMs, toMs: T0 + fromOffsetMs + lengthMs };
          const nowMs = Math.max(...agents.map((a) => a.endMs ?? a.startMs), T0 + nowOffsetMs);
          const privateRate = (): number => privatePerHour;
          const ledgerSlice = { agents, usage: runs };
          const expected = ledgerTotalMicros(ledgerSlice, window, nowMs, privateRate);
          for (const by of ['team', 'project', 'job'] as ChargebackBy[]) {
            const report = chargeback({ ledger: ledgerSlice, window, nowMs, by, privateRate });
            assert.equal(report.totals.totalMicros, expected, `by ${by}`);
            const rowSum = report.rows.reduce((sum, r) => sum + r.totalMicros, 0);
            assert.equal(rowSum, expected);
            for (const r of report.rows) {
              for (const v of [r.privateMicros, r.onDemandMicros, r.spotMicros, r.idleMicros]) {
                assert.ok(Number.isSafeInteger(v) && v >= 0, `${JSON.stringify(r)}`);
              }
              assert.equal(r.cloudMicros, r.onDemandMicros + r.spotMicros + r.idleMicros);
              assert.equal(r.totalMicros, r.cloudMicros + r.privateMicros);
            }
          }
        },
      ),
      { numRuns: propertyRuns() },
    );
  });
});
