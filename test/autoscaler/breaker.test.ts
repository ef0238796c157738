import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  admit,
  breakerReason,
  clockTime,
  holding,
  refused,
  undecided,
  type Breaker,
  type BreakerSettings,
  type BreakerTarget,
} from '../../src/autoscaler/breaker.ts';
import type { Refusal } from '../../src/core/errors.ts';

const MIN = 60_000;
const SETTINGS: BreakerSettings = { initialMs: MIN, maxMs: 30 * MIN };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const TARGET: BreakerTarget = { providerId: 'aws-ec2:us-east-1', offeringKey: 'aws-ec2:us-east-1/us-east-1a/c7i.large/on-demand' };
const SUBNET: Refusal = { scope: 'provider', code: 'InvalidSubnetID.NotFound', subject: 'subnet-0bad', message: 'no subnet' };
const TYPE: Refusal = { scope: 'offering', code: 'InvalidParameterValue', subject: 'c7i.large', message: 'bad type' };

function open(overrides: Partial<Breaker> = {}): Breaker {
  return { ...refused(undefined, TARGET, SUBNET, T0, SETTINGS), ...overrides };
}

describe('launch breaker (state machine)', () => {
  const cases: Array<{ name: string; run: () => Breaker | undefined; expect: Partial<Breaker> | undefined }> = [
    {
      name: 'a first provider refusal opens a provider breaker for the initial backoff',
      run: () => refused(undefined, TARGET, SUBNET, T0, SETTINGS),
      expect: { key: 'aws-ec2:us-east-1', scope: 'provider', state: 'open', refusals: 1, backoffMs: MIN, retryAtMs: T0 + MIN },
    },
    {
      name: 'a first offering refusal opens a breaker keyed by the offering',
      run: () => refused(undefined, TARGET, TYPE, T0, SETTINGS),
      expect: { key: TARGET.offeringKey, scope: 'offering', offeringKey: TARGET.offeringKey, retryAtMs: T0 + MIN },
    },
    {
      name: 'a refusal of a call already in flight while open changes nothing',
      run: () => refused(open(), TARGET, SUBNET, T0 + 5_000, SETTINGS),
      expect: { state: 'open', refusals: 1, backoffMs: MIN, retryAtMs: T0 + MIN },
    },
    {
      name: "a failed trial doubles the backoff from the trial's end",
      run: () => refused(open({ state: 'trying' }), TARGET, SUBNET, T0 + MIN, SETTINGS),
      expect: { state: 'open', refusals: 2, backoffMs: 2 * MIN, retryAtMs: T0 + 3 * MIN },
    },
    {
      name: 'the backoff stops doubling at the maximum',
      run: () => refused(open({ state: 'trying', backoffMs: 20 * MIN }), TARGET, SUBNET, T0, SETTINGS),
      expect: { backoffMs: 30 * MIN, retryAtMs: T0 + 30 * MIN },
    },
    {
      name: 'an undecided trial (throttled, 5xx, no answer) is due again at once',
      run: () => undecided(open({ state: 'trying' }), T0 + 2 * MIN),
      expect: { state: 'open', retryAtMs: T0 + 2 * MIN, backoffMs: MIN },
    },
    {
      name: 'an undecided call through a closed breaker leaves it closed',
      run: () => undecided(undefined, T0),
      expect: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = c.run();
      if (c.expect === undefined) return assert.equal(got, undefined);
      assert.ok(got);
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(got[k as keyof Breaker], v, k);
    });
  }

  const admits: Array<{ name: string; prev: Breaker | undefined; nowMs: number; go: boolean; state?: string }> = [
    { name: 'a closed breaker lets every call through', prev: undefined, nowMs: T0, go: true },
    { name: 'an open breaker holds calls before its time', prev: open(), nowMs: T0 + MIN - 1, go: false, state: 'open' },
    { name: 'an open breaker lets one trial through at its time', prev: open(), nowMs: T0 + MIN, go: true, state: 'trying' },
    { name: 'a breaker whose trial runs holds every other call', prev: open({ state: 'trying' }), nowMs: T0 + 9 * MIN, go: false, state: 'trying' },
  ];
  for (const c of admits) {
    it(c.name, () => {
      const { go, next } = admit(c.prev, c.nowMs);
      assert.equal(go, c.go);
      assert.equal(next?.state, c.state);
      if (next) assert.equal(holding(next, c.nowMs), next.state === 'trying' || c.nowMs < next.retryAtMs);
    });
  }

  it('makes at most 7 calls in the first hour of a refusal that never ends (1 min doubling to 30)', () => {
    // Calls at 0, 1, 3, 7, 15, 31 minutes; the next one is due at 61.
    let breaker: Breaker | undefined;
    const calls: number[] = [];
    for (let t = T0; t < T0 + 60 * MIN; t += 1_000) {
      const { go, next } = admit(breaker, t);
      breaker = next;
      if (!go) continue;
      calls.push((t - T0) / MIN);
      breaker = refused(breaker, TARGET, SUBNET, t, SETTINGS);
    }
    assert.deepEqual(calls, [0, 1, 3, 7, 15, 31]);
    assert.equal(breaker!.retryAtMs, T0 + 61 * MIN);
  });

  it('names the provider, the code, the refused thing and the next try in UTC', () => {
    assert.equal(
      breakerReason(refused(undefined, TARGET, SUBNET, T0 + 5 * 60_000 - MIN, SETTINGS), T0),
      'aws-ec2:us-east-1 refuses launches: InvalidSubnetID.NotFound (subnet-0bad); next try 12:05',
    );
    assert.equal(
      breakerReason(refused(undefined, TARGET, TYPE, T0 + 30_000, SETTINGS), T0),
      'aws-ec2:us-east-1 refuses launches of c7i.large in us-east-1a (on-demand): InvalidParameterValue (c7i.large); next try 12:01:30',
    );
    assert.equal(breakerReason(open({ state: 'trying' }), T0), 'aws-ec2:us-east-1 refuses launches: InvalidSubnetID.NotFound (subnet-0bad); trying again now');
    assert.equal(clockTime(Date.UTC(2026, 0, 1, 9, 7, 0)), '09:07');
  });
});
