import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { LaunchIntent } from '../../src/core/intent.ts';
import type { Offering } from '../../src/core/offering.ts';
import { resources } from '../../src/core/resources.ts';
import { budgetAlerts } from '../../src/cost-model/budget-alerts.ts';
import { budgetLedgerFromMs, periodWindow, scopeContains, type Budget } from '../../src/cost-model/budget.ts';
import { launchOwnerShares, openBudgetBook, type BudgetInput } from '../../src/cost-model/budgets.ts';
import type { AgentInterval, UsageInterval } from '../../src/cost-model/ledger.ts';
import { agent as liveAgent } from '../fakes/builders.ts';
import { budget, cloudInterval, HOUR, MINUTE, owner, privateInterval, SECOND, T0, usage } from './ledger-builders.ts';

const A = owner('team-a', 'vision', 'train');
const B = owner('team-b', 'search', 'index');
const TIMING = { passIntervalMs: 10 * SECOND, terminationAllowanceMs: 20 * SECOND, launchAllowanceMs: 30 * SECOND };
const NOW = T0 + 30 * MINUTE;

/** An m7i.large-like offering at 100 micro-USD a second. */
const OFFERING: Offering = {
  providerId: 'aws-ec2:us-east-1',
  provider: 'aws-ec2',
  region: 'us-east-1',
  zone: 'us-east-1a',
  instanceType: 'm7i.large',
  capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
  lifecycle: 'on-demand',
  pricePerHourMicros: 360_000,
  bootMs: 30_000,
  gpuModel: null,
  labels: {},
  available: true,
};

function book(
  budgets: readonly Budget[],
  agents: readonly AgentInterval[] = [],
  runs: readonly UsageInterval[] = [],
  extra: Partial<BudgetInput> = {},
) {
  return openBudgetBook({
    nowMs: NOW,
    budgets,
    ledger: { agents, usage: runs },
    openLaunches: [],
    timing: TIMING,
    ...extra,
  });
}

describe('budgets', () => {
  describe('scopes and periods', () => {
    const cases = [
      { name: 'global holds everyone', scope: { kind: 'global' } as const, who: B, want: true },
      { name: 'a team holds its own owners', scope: { kind: 'team', team: 'team-a' } as const, who: A, want: true },
      { name: 'a team does not hold another', scope: { kind: 'team', team: 'team-a' } as const, who: B, want: false },
      { name: 'a project in any team', scope: { kind: 'project', project: 'vision' } as const, who: A, want: true },
      {
        name: 'a project of another team',
        scope: { kind: 'project', team: 'team-b', project: 'vision' } as const,
        who: A,
        want: false,
      },
    ];
    for (const c of cases) {
      it(`decides whose spend counts: ${c.name}`, () => assert.equal(scopeContains(c.scope, c.who), c.want));
    }

    it('counts calendar periods in UTC and a burn rate over the trailing hour', () => {
      const at = Date.UTC(2026, 1, 14, 13, 45, 10);
      assert.deepEqual(periodWindow('hour', at), {
        fromMs: Date.UTC(2026, 1, 14, 13),
        toMs: Date.UTC(2026, 1, 14, 14),
      });
      assert.deepEqual(periodWindow('day', at), { fromMs: Date.UTC(2026, 1, 14), toMs: Date.UTC(2026, 1, 15) });
      assert.deepEqual(periodWindow('month', at), { fromMs: Date.UTC(2026, 1, 1), toMs: Date.UTC(2026, 2, 1) });
      assert.deepEqual(periodWindow('burn', at), { fromMs: at - HOUR, toMs: at });
      assert.equal(budgetLedgerFromMs([{ period: 'hour' }, { period: 'month' }], at), Date.UTC(2026, 1, 1));
    });
  });

  describe('spend', () => {
    it('is what attribution gives the scope’s owners in the period, cloud only, with percent and overrun', () => {
      // 30 minutes at 100 micro-USD a second: 180,000; A's task half of it, the idle half to B who launched it.
      const agent = cloudInterval({ endMs: null, owners: [{ owner: B, share: 1 }] });
      const runs = [usage(agent, A, 0.5, T0, null)];
      const rack = privateInterval({ endMs: null });
      const budgets = [
        budget({ id: 'bud-a', scope: { kind: 'team', team: 'team-a' }, capMicros: 100_000 }),
        budget({ id: 'bud-b', scope: { kind: 'team', team: 'team-b' }, capMicros: 60_000, onCap: 'finish' }),
        budget({ id: 'bud-g', scope: { kind: 'global' }, capMicros: 1_000_000 }),
      ];
      const statuses = book(budgets, [agent, rack], [...runs, usage(rack, A, 1, T0, null)]).statuses();
      assert.deepEqual(
        statuses.map((s) => [s.budget.id, s.spentMicros, s.percent, s.overrunMicros]),
        [
          ['bud-a', 90_000, 90, 0],
          ['bud-b', 90_000, 150, 30_000],
          ['bud-g', 180_000, 18, 0],
        ],
      );
    });

    it('counts a closed period no more: a new day starts at zero', () => {
      const agent = cloudInterval({ startMs: T0 - 2 * HOUR, endMs: T0 - HOUR, owners: [{ owner: A, share: 1 }] });
      const [status] = book([budget({ period: 'day' })], [agent]).statuses();
      assert.equal(status?.spentMicros, 0);
      assert.equal(status?.committedMicros, 0);
    });
  });

  describe('admitting launches', () => {
    it('admits a launch that fits and reserves it, so the next one is refused with the budget named', () => {
      // A launch may bill 30 s of launch allowance + 10 s pass + 20 s termination = 60 s: 6,000 plus rounding.
      const b = book([budget({ name: 'ml-daily', scope: { kind: 'team', team: 'team-a' }, capMicros: 10_000 })]);
      assert.equal(b.admitLaunch(OFFERING, [{ owner: A, share: 1 }]), undefined);
      assert.match(
        b.admitLaunch(OFFERING, [{ owner: A, share: 1 }]) ?? '',
        /^launching 1 x m7i\.large \(on-demand\) would pass budget 'ml-daily' \(team team-a, \$0\.01 per day\): spent \$0\.0000 \+ committed \$0\.0060 \+ up to \$0\.0060 > cap \$0\.0100$/,
      );
    });

    it('counts the minimum bill: a launch is refused when the cap cannot hold 60 s', () => {
      const b = book([budget({ capMicros: 5_999 })]);
      assert.match(b.admitLaunch(OFFERING, [{ owner: A, share: 1 }]) ?? '', /would pass budget/);
    });

    it('leaves launches for owners outside a budget’s scope alone', () => {
      const b = book([budget({ scope: { kind: 'team', team: 'team-b' }, capMicros: 0 })]);
      assert.equal(b.admitLaunch(OFFERING, [{ owner: A, share: 1 }], 5), undefined);
    });

    it('charges a shared launch to a team by its share of the owners', () => {
      const b = book([budget({ scope: { kind: 'team', team: 'team-a' }, capMicros: 3_020 })]);
      assert.equal(
        b.admitLaunch(
          OFFERING,
          launchOwnerShares(
            [
              { owner: A, resources: resources({ cpuMillis: 1000 }) },
              { owner: B, resources: resources({ cpuMillis: 1000 }) },
            ],
            OFFERING,
          ),
        ),
        undefined,
      );
    });

    it('reserves launches in flight from their intent’s time, minimum bill included', () => {
      const intent: LaunchIntent = {
        id: 'in-1',
        kind: 'launch',
        providerId: OFFERING.providerId,
        offering: OFFERING,
        count: 2,
        owners: [{ owner: A, share: 1 }],
        reason: 'test',
        state: 'pending',
        instanceIds: [],
        createdAtMs: NOW - 10 * SECOND,
        updatedAtMs: NOW,
        attempts: 0,
        error: '',
      };
      const [status] = book([budget({ scope: { kind: 'team', team: 'team-a' } })], [], [], {
        openLaunches: [intent],
      }).statuses();
      // Each of the two: from the intent through 30 s launch allowance + 30 s horizon = 60 s: 6,000.
      assert.equal(status?.committedMicros, 2 * 6_000 + 2);
    });
  });

  describe('admitting placements', () => {
    const foreign = cloudInterval({ endMs: null, startMs: NOW - 5 * MINUTE, owners: [{ owner: B, share: 1 }] });
    const cloud = liveAgent({
      id: foreign.agentId,
      location: foreign.location,
      lifecycle: 'on-demand',
      capacity: foreign.capacity,
      pricePerHourMicros: foreign.pricePerHourMicros,
    });
    const half = { id: 't-1', owner: A, resources: resources({ cpuMillis: 2000 }) };

    it('always admits a placement on a private agent', () => {
      const b = book([budget({ capMicros: 0 })]);
      assert.equal(b.admitPlacement(half, liveAgent()), undefined);
    });

    it('adds the task’s share of the agent until the horizon to its team', () => {
      // Half of 30 s at 100 micro-USD a second: 1,500, plus rounding.
      const b = book([budget({ scope: { kind: 'team', team: 'team-a' }, capMicros: 1_503 })], [foreign]);
      assert.match(b.admitPlacement(half, cloud) ?? '', /placing task t-1 on agent .* would pass budget/);
      const roomy = book([budget({ scope: { kind: 'team', team: 'team-a' }, capMicros: 1_504 })], [foreign]);
      assert.equal(roomy.admitPlacement(half, cloud), undefined);
    });

    it('adds nothing for a task on an agent its own team launched and pays for anyway', () => {
      const own = cloudInterval({ endMs: null, startMs: NOW - 5 * MINUTE, owners: [{ owner: A, share: 1 }] });
      // Spent: 5 idle minutes, 30,000. Committed: 30 s of it, 3,000, and 6 of rounding; the placement 4 of rounding.
      const cap = 30_000 + 3_006 + 4;
      const b = book([budget({ scope: { kind: 'team', team: 'team-a' }, capMicros: cap })], [own, foreign]);
      assert.equal(b.admitPlacement(half, { ...cloud, id: own.agentId }), undefined);
      assert.match(
        b.admitPlacement({ ...half, id: 't-2' }, cloud) ?? '',
        /would pass/,
        'another team’s agent costs more',
      );
    });

    it('reserves a task asked about on several agents once, at the most any of them needs', () => {
      const other = cloudInterval({ endMs: null, startMs: NOW - 5 * MINUTE, owners: [{ owner: B, share: 1 }] });
      const b = book([budget({ scope: { kind: 'team', team: 'team-a' }, capMicros: 2_000 })], [foreign, other]);
      assert.equal(b.admitPlacement(half, cloud), undefined);
      assert.equal(b.admitPlacement(half, { ...cloud, id: other.agentId }), undefined);
      assert.match(b.admitPlacement({ ...half, id: 't-2' }, cloud) ?? '', /would pass/);
    });
  });

  describe('preemptions', () => {
    const agentOf = (owners: AgentInterval['owners']): AgentInterval =>
      cloudInterval({ endMs: null, startMs: NOW - 10 * MINUTE, owners, name: `i-${owners[0]?.owner.team}` });

    it('stops nothing while spent and committed fit under the cap', () => {
      const a = agentOf([{ owner: A, share: 1 }]);
      assert.deepEqual(book([budget({ capMicros: 1_000_000 })], [a]).preemptions(), []);
    });

    it('first returns the team’s tasks on agents others launched to pending, with the reason', () => {
      const theirs = agentOf([{ owner: B, share: 1 }]);
      const runs = [usage(theirs, A, 0.5, NOW - 5 * MINUTE, null, { taskId: 't-a' })];
      // Spent: A's half of 5 minutes, 15,000. Committed: half of 30 s, 1,500.
      const b = book(
        [budget({ name: 'a-cap', scope: { kind: 'team', team: 'team-a' }, capMicros: 16_000 })],
        [theirs],
        runs,
      );
      const commands = b.preemptions();
      assert.deepEqual(
        commands.map((c) => [c.kind, c.kind === 'stop-task' ? c.taskId : c.agentId]),
        [['stop-task', 't-a']],
      );
      assert.match(
        commands[0]!.reason,
        /^budget 'a-cap' \(team team-a, \$0\.02 per day, preempt\): spent \$0\.0150 \+ committed \$0\.00\d+ would pass the cap: returned to pending from agent i-team-b, saving up to \$0\.\d+$/,
      );
      assert.match(
        b.admitPlacement(
          { id: 't-x', owner: A, resources: resources({ cpuMillis: 1 }) },
          liveAgent({ id: theirs.agentId, location: theirs.location, lifecycle: 'on-demand' }),
        ) ?? '',
        /being stopped/,
      );
      assert.deepEqual(b.preemptions(), [], 'a second call stops nothing more');
    });

    it('terminates the agents the scope pays for when stopping its tasks is not enough', () => {
      const mine = agentOf([{ owner: A, share: 1 }]);
      const theirs = agentOf([{ owner: B, share: 1 }]);
      const runs = [usage(mine, B, 0.5, NOW - 5 * MINUTE, null)];
      // A pays 45,000 so far (B's task took 15,000 of 60,000) and commits 3,000 (+6): 48,006. Stopping A's agent
      // saves the 10 s between the termination allowance and the horizon: 1,000.
      const b = book([budget({ scope: { kind: 'team', team: 'team-a' }, capMicros: 47_010 })], [mine, theirs], runs);
      const commands = b.preemptions();
      assert.deepEqual(
        commands.map((c) => [c.kind, c.agentId]),
        [['terminate-agent', mine.agentId]],
      );
      const [command] = commands;
      assert.ok(command?.kind === 'terminate-agent');
      assert.equal(command.instanceId, mine.instanceId);
      assert.equal(b.statuses()[0]!.spentMicros + b.statuses()[0]!.committedMicros, 47_006);
    });

    it('lets a finish budget run on past its cap, reporting the overrun, but admits nothing new', () => {
      const mine = agentOf([{ owner: A, share: 1 }]);
      const b = book([budget({ scope: { kind: 'team', team: 'team-a' }, capMicros: 10_000, onCap: 'finish' })], [mine]);
      assert.deepEqual(b.preemptions(), []);
      assert.equal(b.statuses()[0]?.overrunMicros, 60_000 - 10_000);
      assert.match(b.admitLaunch(OFFERING, [{ owner: A, share: 1 }]) ?? '', /would pass budget/);
    });
  });

  describe('alerts', () => {
    it('reports each of 50, 80 and 100 percent once reached, keyed by the period', () => {
      const b = budget({ id: 'bud-1', period: 'hour', capMicros: 100_000 });
      const status = (spentMicros: number) => ({
        budget: b,
        window: periodWindow('hour', NOW),
        spentMicros,
        committedMicros: 0,
        percent: spentMicros / 1_000,
        overrunMicros: 0,
      });
      assert.deepEqual(budgetAlerts([status(49_999)], NOW), []);
      assert.deepEqual(
        budgetAlerts([status(80_000)], NOW).map((a) => [a.percent, a.periodStartMs]),
        [
          [50, T0],
          [80, T0],
        ],
      );
      assert.equal(budgetAlerts([status(100_000)], NOW).length, 3);
      assert.deepEqual(budgetAlerts([{ ...status(0), budget: { ...b, capMicros: 0 } }], NOW), []);
    });
  });
});
