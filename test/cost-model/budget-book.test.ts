import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Agent } from '../../src/core/agent.ts';
import type { LaunchIntent, TerminateIntent } from '../../src/core/intent.ts';
import type { Offering } from '../../src/core/offering.ts';
import { resources } from '../../src/core/resources.ts';
import type { Budget } from '../../src/cost-model/budget.ts';
import { launchOwnerShares, openBudgetBook, type BudgetInput } from '../../src/cost-model/budgets.ts';
import type { AgentInterval, UsageInterval } from '../../src/cost-model/ledger.ts';
import { agent as liveAgent } from '../fakes/builders.ts';
import { budget, cloudInterval, MINUTE, owner, privateInterval, SECOND, T0, usage } from './ledger-builders.ts';

// The budget book's bookkeeping, each figure worked out by hand: agents bill 100 micro-USD a second (unless said),
// a pass is 10 s and a termination allowance 20 s (so the horizon is 30 s), a launch allowance 30 s. T0 is midnight
// UTC, so a daily budget's period starts at T0.
const A = owner('team-a', 'vision', 'train');
const B = owner('team-b', 'search', 'index');
const TIMING = { passIntervalMs: 10 * SECOND, terminationAllowanceMs: 20 * SECOND, launchAllowanceMs: 30 * SECOND };
const NOW = T0 + 30 * MINUTE;
const TEAM_A = { kind: 'team', team: 'team-a' } as const;

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

/** An agent running since five minutes ago, launched for `owners`. */
function running(owners: AgentInterval['owners'], overrides: Partial<AgentInterval> = {}): AgentInterval {
  return cloudInterval({ startMs: NOW - 5 * MINUTE, endMs: null, owners, ...overrides });
}

/** The pool's view of a ledger interval, for admitPlacement. */
function live(interval: AgentInterval): Agent {
  return liveAgent({
    id: interval.agentId,
    location: interval.location,
    lifecycle: interval.lifecycle,
    capacity: interval.capacity,
    pricePerHourMicros: interval.pricePerHourMicros,
  });
}

/** A task of A's taking half of a 4-CPU agent. */
const half = (id: string) => ({ id, owner: A, resources: resources({ cpuMillis: 2000 }) });

function terminate(instanceId: string, createdAtMs: number): TerminateIntent {
  return {
    id: `term-${instanceId}-${createdAtMs}`,
    kind: 'terminate',
    providerId: OFFERING.providerId,
    instanceIds: [instanceId],
    reason: 'test',
    state: 'pending',
    createdAtMs,
    updatedAtMs: createdAtMs,
    attempts: 0,
    error: '',
  };
}

describe('budget book', () => {
  it('evaluates budgets in id order, whatever order they come in', () => {
    const z = budget({ id: 'bud-z', name: 'zulu', scope: TEAM_A, capMicros: 0 });
    const a = budget({ id: 'bud-a', name: 'alpha', scope: TEAM_A, capMicros: 0 });
    const m = budget({ id: 'bud-m', name: 'mike', scope: TEAM_A, capMicros: 0 });
    const b = book([z, a, m]);
    assert.deepEqual(
      b.statuses().map((s) => s.budget.id),
      ['bud-a', 'bud-m', 'bud-z'],
    );
    assert.match(b.admitLaunch(OFFERING, [{ owner: A, share: 1 }]) ?? '', /would pass budget 'alpha'/);
  });

  it('commits nothing for private agents, even with the scope’s tasks on them', () => {
    const rack = privateInterval({ startMs: NOW - 10 * MINUTE, endMs: null });
    const runs = [usage(rack, A, 0.5, NOW - 5 * MINUTE, null)];
    const budgetA = budget({ scope: TEAM_A });
    const b = book([budgetA], [rack], runs);
    assert.equal(b.committedMicros(budgetA), 0);
    assert.equal(b.statuses()[0]!.spentMicros, 0);
  });

  it('counts an agent being terminated only until the earliest open termination’s allowance runs out', () => {
    const own = running([{ owner: A, share: 1 }]);
    const other = running([{ owner: A, share: 1 }]);
    const budgetA = budget({ scope: TEAM_A });
    const b = book([budgetA], [own, other], [], {
      // Decided 15 s and 5 s ago: the earlier one stops billing 5 s from now (500), `other` runs to the horizon
      // (3,000); 6 of rounding each (two parts and one for A, at 2 micro-USD a part).
      openTerminations: [terminate(own.instanceId!, NOW - 5 * SECOND), terminate(own.instanceId!, NOW - 15 * SECOND)],
    });
    assert.equal(b.committedMicros(budgetA), 500 + 6 + 3_000 + 6);
    assert.match(b.admitPlacement(half('t-1'), live(own)) ?? '', /^agent .* is being stopped$/);
    assert.equal(b.admitPlacement(half('t-1'), live(other)), undefined);
  });

  it('commits the scope’s running and placed tasks on an agent, each once, and not its finished ones', () => {
    const theirs = running([{ owner: B, share: 1 }]);
    const runs = [
      usage(theirs, A, 0.5, NOW - 4 * MINUTE, NOW - 3 * MINUTE, { taskId: 'done' }),
      usage(theirs, A, 0.25, NOW - 2 * MINUTE, null, { taskId: 'running' }),
      usage(theirs, B, 0.25, NOW - 2 * MINUTE, null, { taskId: 'b-running' }),
    ];
    const quarter = resources({ cpuMillis: 1000 });
    const placedTasks = [
      { id: 'running', owner: A, resources: quarter, agentId: theirs.agentId },
      { id: 'placed', owner: A, resources: quarter, agentId: theirs.agentId },
      { id: 'unplaced', owner: A, resources: quarter, agentId: null },
      { id: 'elsewhere', owner: A, resources: quarter, agentId: 'not-in-the-ledger' },
    ];
    const budgetA = budget({ scope: TEAM_A });
    // A's quarter running and quarter placed: half of the 3,000 until the horizon; 6 of rounding.
    assert.equal(book([budgetA], [theirs], runs, { placedTasks }).committedMicros(budgetA), 1_500 + 6);
  });

  it('reserves every instance of a launch, each with its rounding allowance', () => {
    // 3 x 6,000 (launch allowance and horizon, the minimum bill) + 3 x 2.
    const fits = book([budget({ scope: TEAM_A, capMicros: 18_006 })]);
    assert.equal(fits.admitLaunch(OFFERING, [{ owner: A, share: 1 }], 3), undefined);
    assert.equal(fits.statuses()[0]!.committedMicros, 18_006);
    const tight = book([budget({ scope: TEAM_A, capMicros: 18_005 })]);
    assert.match(tight.admitLaunch(OFFERING, [{ owner: A, share: 1 }], 3) ?? '', /up to \$0\.0180 > cap \$0\.0180/);
  });

  it('commits in-flight launches to the scopes of their owners only', () => {
    const intent: LaunchIntent = {
      id: 'in-b',
      kind: 'launch',
      providerId: OFFERING.providerId,
      offering: OFFERING,
      count: 1,
      owners: [{ owner: B, share: 1 }],
      reason: 'test',
      state: 'pending',
      instanceIds: [],
      createdAtMs: NOW,
      updatedAtMs: NOW,
      attempts: 0,
      error: '',
    };
    const budgetA = budget({ scope: TEAM_A });
    const global = budget();
    const b = book([budgetA, global], [], [], { openLaunches: [intent] });
    assert.equal(b.committedMicros(budgetA), 0);
    // 60 s from the intent (launch allowance and horizon): 6,000, and one rounding part.
    assert.equal(b.committedMicros(global), 6_002);
  });

  it('gives a rounding allowance for agents that lived in the period, not for one that ended as it began', () => {
    const before = cloudInterval({ startMs: T0 - 10 * MINUTE, endMs: T0, owners: [{ owner: A, share: 1 }] });
    const within = cloudInterval({ startMs: T0 - 10 * MINUTE, endMs: T0 + MINUTE, owners: [{ owner: A, share: 1 }] });
    const budgetA = budget({ scope: TEAM_A });
    assert.equal(book([budgetA], [before, within]).committedMicros(budgetA), 6);
  });

  describe('placements', () => {
    it('always admits a placement on a private agent, whether its location or its lifecycle says so', () => {
      const b = book([budget({ scope: TEAM_A, capMicros: 0 })]);
      const privateSite = { kind: 'private', site: 'dc-1' } as const;
      const cloudSite = { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' } as const;
      const price = { pricePerHourMicros: 360_000, capacity: OFFERING.capacity };
      assert.equal(
        b.admitPlacement(half('t-1'), liveAgent({ ...price, location: privateSite, lifecycle: 'on-demand' })),
        undefined,
      );
      assert.equal(
        b.admitPlacement(half('t-2'), liveAgent({ ...price, location: cloudSite, lifecycle: 'private' })),
        undefined,
      );
    });

    it('reserves a placement on an agent the ledger does not hold yet from its price, minimum bill included', () => {
      const budgetA = budget({ scope: TEAM_A });
      const b = book([budgetA]);
      const fresh = liveAgent({
        location: { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' },
        lifecycle: 'on-demand',
        capacity: OFFERING.capacity,
        pricePerHourMicros: 360_000,
      });
      // 30 s to the horizon bills the 60 s minimum, 6,000: half of it and 4 of rounding; then a task larger than the
      // agent counts as the whole of it.
      assert.equal(b.admitPlacement(half('t-1'), fresh), undefined);
      assert.equal(b.committedMicros(budgetA), 3_004);
      assert.equal(
        b.admitPlacement({ id: 't-2', owner: A, resources: resources({ cpuMillis: 8000 }) }, fresh),
        undefined,
      );
      assert.equal(b.committedMicros(budgetA), 3_004 + 6_004);
    });

    it('reserves only the growth of the scope’s fraction on an agent it shares', () => {
      const shared = running([
        { owner: A, share: 0.5 },
        { owner: B, share: 0.5 },
      ]);
      const budgetA = budget({ scope: TEAM_A });
      const b = book([budgetA], [shared]);
      const before = b.committedMicros(budgetA);
      // A pays half the idle agent already; with its half task: 0.5 + 0.5 x 0.5 = 0.75. A quarter of 3,000, and 4.
      assert.equal(b.admitPlacement(half('t-1'), live(shared)), undefined);
      assert.equal(b.committedMicros(budgetA) - before, 754);
    });

    it('leaves global budgets and those of other scopes out of a placement', () => {
      const theirs = running([{ owner: B, share: 1 }]);
      // Both are already past their cap of 0 (B's agent has billed 30,000 today).
      const b = book(
        [budget({ capMicros: 0 }), budget({ scope: { kind: 'team', team: 'team-b' }, capMicros: 0 })],
        [theirs],
      );
      assert.equal(b.admitPlacement(half('t-1'), live(theirs)), undefined);
    });

    it('keeps the largest reservation of a task asked about on several agents, topping it up by the difference', () => {
      const cheap = running([{ owner: B, share: 1 }]);
      const costly = running([{ owner: B, share: 1 }], { pricePerHourMicros: 720_000 });
      const budgetA = budget({ scope: TEAM_A, capMicros: 3_004 });
      const b = book([budgetA], [cheap, costly]);
      // Half of 30 s: 1,500 on the cheap agent, 3,000 on the costly one; 4 of rounding each.
      assert.equal(b.admitPlacement(half('t-1'), live(cheap)), undefined);
      assert.equal(b.committedMicros(budgetA), 1_504);
      assert.equal(b.admitPlacement(half('t-1'), live(costly)), undefined, 'only the 1,500 more is asked for');
      assert.equal(b.committedMicros(budgetA), 3_004);
      assert.equal(b.admitPlacement(half('t-1'), live(cheap)), undefined);
      assert.equal(b.committedMicros(budgetA), 3_004, 'the cheaper agent does not lower the reservation');
      assert.match(b.admitPlacement(half('t-2'), live(cheap)) ?? '', /would pass budget/);
    });
  });

  it('stops no more than the excess over the cap needs', () => {
    const theirs = cloudInterval({ startMs: NOW - 10 * MINUTE, endMs: null, owners: [{ owner: B, share: 1 }] });
    const mine = cloudInterval({ startMs: NOW - 10 * MINUTE, endMs: null, owners: [{ owner: A, share: 1 }] });
    const runs = [usage(theirs, A, 0.5, NOW - 5 * MINUTE, null, { taskId: 't-a' })];
    // Spent: 15,000 (half of 5 minutes) + 60,000 (A's idle agent). Committed: 1,500 + 3,000 and 6 + 6 of rounding.
    // 79,512 against a cap of 79,100: stopping A's task (1,500 to 1,000: its half of the 20 s allowance) is enough.
    const b = book([budget({ scope: TEAM_A, capMicros: 79_100 })], [theirs, mine], runs);
    assert.deepEqual(
      b.preemptions().map((c) => [c.kind, c.kind === 'stop-task' ? c.taskId : c.agentId]),
      [['stop-task', 't-a']],
    );
  });

  it('gives a new instance’s owners their tasks’ dominant shares of it', () => {
    const cpus = (n: number) => resources({ cpuMillis: n * 1000 });
    assert.deepEqual(
      launchOwnerShares(
        [
          { owner: A, resources: cpus(1) },
          { owner: A, resources: cpus(1) },
          { owner: B, resources: cpus(2) },
        ],
        OFFERING,
      ),
      [
        { owner: A, share: 0.5 },
        { owner: B, share: 0.5 },
      ],
    );
    assert.deepEqual(
      launchOwnerShares(
        [
          { owner: A, resources: cpus(3) },
          { owner: B, resources: cpus(1) },
        ],
        OFFERING,
      ),
      [
        { owner: A, share: 0.75 },
        { owner: B, share: 0.25 },
      ],
    );
    // Tasks that ask for nothing still count, equally.
    assert.deepEqual(
      launchOwnerShares(
        [
          { owner: A, resources: resources() },
          { owner: B, resources: resources() },
        ],
        OFFERING,
      ),
      [
        { owner: A, share: 0.5 },
        { owner: B, share: 0.5 },
      ],
    );
  });
});
