import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { apportion } from '../../src/cost-model/apportion.ts';
import { attributeAgent, type Charge } from '../../src/cost-model/attribution.ts';
import {
  billedInWindow,
  UNATTRIBUTED_OWNER,
  type AgentInterval,
  type UsageInterval,
} from '../../src/cost-model/ledger.ts';
import { cloudInterval, HOUR, MINUTE, owner, privateInterval, SECOND, T0, usage } from './ledger-builders.ts';

const A = owner('team-a', 'vision', 'train');
const B = owner('team-b', 'search', 'index');
const WHOLE = { fromMs: T0 - HOUR, toMs: T0 + 10 * HOUR };

/** Charges as `team:category -> micros`, summed over projects and jobs, for compact expectations. */
function byTeam(charges: readonly Charge[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of charges)
    out[`${c.owner.team}:${c.category}`] = (out[`${c.owner.team}:${c.category}`] ?? 0) + c.micros;
  return out;
}

function attribute(
  agent: AgentInterval,
  runs: readonly UsageInterval[],
  window = WHOLE,
  nowMs = T0 + 10 * HOUR,
  price = agent.pricePerHourMicros,
): Charge[] {
  const charges = attributeAgent(agent, runs, window, nowMs, price);
  const total = charges.reduce((sum, c) => sum + c.micros, 0);
  assert.equal(total, billedInWindow(agent, price, window, nowMs), 'the parts sum to the billed total');
  return charges;
}

describe('attribution', () => {
  // $0.36/h is 100 micro-USD a second: every expected number below is worked out by hand.
  const shared = cloudInterval({
    owners: [
      { owner: A, share: 0.5 },
      { owner: B, share: 0.5 },
    ],
  });
  const sharedRuns = [usage(shared, A, 0.5, T0, T0 + HOUR), usage(shared, B, 0.25, T0, T0 + 30 * MINUTE)];

  it('gives two teams sharing an agent exactly their dominant shares, and the idle rest by the launch shares', () => {
    // A's task: 0.5 x 360,000. B's: 0.25 x 180,000. Idle: 0.25 x 180,000 + 0.5 x 180,000 = 135,000, halved.
    assert.deepEqual(byTeam(attribute(shared, sharedRuns)), {
      'team-a:onDemand': 180_000,
      'team-a:idle': 67_500,
      'team-b:onDemand': 45_000,
      'team-b:idle': 67_500,
    });
  });

  it('splits a window inside the interval by the same rule', () => {
    // 15 to 45 minutes: 180,000 in all. A: 90,000; B: 0.25 x 90,000; idle 22,500 + 45,000, halved.
    const window = { fromMs: T0 + 15 * MINUTE, toMs: T0 + 45 * MINUTE };
    assert.deepEqual(byTeam(attribute(shared, sharedRuns, window)), {
      'team-a:onDemand': 90_000,
      'team-a:idle': 33_750,
      'team-b:onDemand': 22_500,
      'team-b:idle': 33_750,
    });
  });

  it('scales the shares down when they sum past one, leaving nothing idle', () => {
    const agent = cloudInterval({ owners: [{ owner: A, share: 1 }] });
    const runs = [usage(agent, A, 0.8, T0, T0 + HOUR), usage(agent, B, 0.4, T0, T0 + HOUR)];
    assert.deepEqual(byTeam(attribute(agent, runs)), { 'team-a:onDemand': 240_000, 'team-b:onDemand': 120_000 });
  });

  it('charges a spot agent as spot, and its idle time to the team that launched it', () => {
    // $0.72/h for 30 minutes: 360,000. A's task uses all of it for 10 minutes: 120,000.
    const agent = cloudInterval({
      lifecycle: 'spot',
      pricePerHourMicros: 720_000,
      endMs: T0 + 30 * MINUTE,
      owners: [{ owner: B, share: 1 }],
    });
    const runs = [usage(agent, A, 1, T0 + 5 * MINUTE, T0 + 15 * MINUTE)];
    assert.deepEqual(byTeam(attribute(agent, runs)), { 'team-a:spot': 120_000, 'team-b:idle': 240_000 });
  });

  it('gives the minimum bill’s surplus to the launching owners as idle', () => {
    // 20 s of life bills 60 s (6,000); A's task ran 10 s (1,000); idle 1,000 of running time + 4,000 of surplus.
    const agent = cloudInterval({ endMs: T0 + 20 * SECOND, owners: [{ owner: B, share: 1 }] });
    const runs = [usage(agent, A, 1, T0 + 5 * SECOND, T0 + 15 * SECOND)];
    assert.deepEqual(byTeam(attribute(agent, runs)), { 'team-a:onDemand': 1_000, 'team-b:idle': 5_000 });
  });

  it('counts the minimum surplus only in the window that holds the interval’s end', () => {
    const agent = cloudInterval({ endMs: T0 + 20 * SECOND, owners: [{ owner: B, share: 1 }] });
    assert.deepEqual(byTeam(attribute(agent, [], { fromMs: T0, toMs: T0 + 10 * SECOND })), { 'team-b:idle': 1_000 });
    assert.deepEqual(byTeam(attribute(agent, [], { fromMs: T0 + 10 * SECOND, toMs: T0 + MINUTE })), {
      'team-b:idle': 5_000,
    });
  });

  it('charges private capacity at its amortized rate, the unused part to nobody in particular', () => {
    const agent = privateInterval();
    const runs = [usage(agent, A, 0.25, T0, T0 + HOUR)];
    const charges = attribute(agent, runs, WHOLE, T0 + 10 * HOUR, 3_600_000);
    assert.deepEqual(byTeam(charges), { 'team-a:private': 900_000, [`${UNATTRIBUTED_OWNER.team}:private`]: 2_700_000 });
  });

  it('gives idle time of an agent whose launch recorded no owners to the unattributed owner', () => {
    const agent = cloudInterval({ owners: [], endMs: T0 + 2 * MINUTE });
    assert.deepEqual(byTeam(attribute(agent, [])), { [`${UNATTRIBUTED_OWNER.team}:idle`]: 12_000 });
  });

  it('counts an open interval up to now, with the tasks still running', () => {
    const agent = cloudInterval({ endMs: null, owners: [{ owner: B, share: 1 }] });
    const runs = [usage(agent, A, 0.5, T0 + 10 * SECOND, null)];
    assert.deepEqual(byTeam(attribute(agent, runs, WHOLE, T0 + 30 * SECOND)), {
      'team-a:onDemand': 1_000,
      'team-b:idle': 2_000,
    });
  });

  it('splits a total that does not divide evenly by the largest remainder, ties by owner', () => {
    // 61 s bills 6,100; three equal launch shares get 2,033.33 each: the first by name gets the extra unit.
    const agent = cloudInterval({
      endMs: T0 + 61 * SECOND,
      owners: ['a', 'b', 'c'].map((team) => ({ owner: owner(team), share: 1 / 3 })),
    });
    assert.deepEqual(byTeam(attribute(agent, [])), { 'a:idle': 2_034, 'b:idle': 2_033, 'c:idle': 2_033 });
  });

  it('splits idle time only among launch owners with a positive, finite share', () => {
    // An hour idle at 100 micro-USD a second: 360,000. The shares 1 and 3 count (a quarter, three quarters); a
    // negative, NaN or infinite share is dropped, not allowed to take from or swamp the others.
    const C = owner('team-c');
    const negative = cloudInterval({
      owners: [
        { owner: A, share: 1 },
        { owner: B, share: 3 },
        { owner: C, share: -2 },
      ],
    });
    assert.deepEqual(byTeam(attribute(negative, [])), { 'team-a:idle': 90_000, 'team-b:idle': 270_000 });
    const nonFinite = cloudInterval({
      owners: [
        { owner: A, share: 1 },
        { owner: B, share: Number.NaN },
        { owner: C, share: Number.POSITIVE_INFINITY },
      ],
    });
    assert.deepEqual(byTeam(attribute(nonFinite, [])), { 'team-a:idle': 360_000 });
  });

  it('ignores intervals of other agents and runs outside the window', () => {
    const agent = cloudInterval({ owners: [{ owner: B, share: 1 }] });
    const other = cloudInterval();
    const runs = [usage(other, A, 1, T0, T0 + HOUR), usage(agent, A, 1, T0 - HOUR, T0 - MINUTE)];
    assert.deepEqual(byTeam(attribute(agent, runs)), { 'team-b:idle': 360_000 });
  });
});

describe('apportion (largest remainder)', () => {
  const cases = [
    { name: 'exact parts stay as they are', exact: { a: 2, b: 3 }, total: 5, want: { a: 2, b: 3 } },
    {
      name: 'the largest fractions get the units left',
      exact: { a: 1.2, b: 1.5, c: 2.3 },
      total: 5,
      want: { a: 1, b: 2, c: 2 },
    },
    { name: 'ties go by key', exact: { b: 0.5, a: 0.5 }, total: 1, want: { a: 1 } },
    {
      name: 'a drifted sum is still met exactly',
      exact: { a: 0.9999999, b: 1.0000001 },
      total: 2,
      want: { a: 1, b: 1 },
    },
    { name: 'a larger total is spread round', exact: { a: 0, b: 0 }, total: 3, want: { a: 2, b: 1 } },
    {
      name: 'a smaller total takes from the smallest fractions',
      exact: { a: 2.9, b: 2.1 },
      total: 4,
      want: { a: 2, b: 2 },
    },
  ];
  for (const c of cases) {
    it(`splits so the parts sum to the total: ${c.name}`, () => {
      const parts = apportion(new Map(Object.entries(c.exact)), c.total);
      assert.deepEqual(Object.fromEntries(parts), c.want);
    });
  }
});
