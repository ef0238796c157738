import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  AgentExposure,
  inFlightLaunches,
  launchShare,
  newLaunchReserveMicros,
  normalizedShares,
} from '../../src/cost-model/budget-exposure.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import { launchIntent, offering, terminateIntent } from '../store/helpers.ts';
import { cloudInterval, HOUR, owner, T0 } from './ledger-builders.ts';

// 60 s passes, 60 s to stop, 120 s to launch: a horizon of 120 s. Prices of 360,000 micro-USD/h = 100 a second.
const TIMING = { passIntervalMs: 60_000, terminationAllowanceMs: 60_000, launchAllowanceMs: 120_000 };
const PER_SECOND_100 = offering({ pricePerHourMicros: 360_000 });
const ML = owner('ml');
const WEB = owner('web');

describe('budget exposure', () => {
  describe('launches in flight', () => {
    it('reserves each instance the ledger does not know yet, from the intent’s writing to allowance plus horizon', () => {
      const young = launchIntent({
        offering: PER_SECOND_100,
        count: 3,
        createdAtMs: T0,
        owners: [
          { owner: ML, share: 3 },
          { owner: WEB, share: 1 },
        ],
      });
      const old = launchIntent({
        offering: PER_SECOND_100,
        count: 1,
        createdAtMs: T0 - HOUR,
        owners: [{ owner: ML, share: 1 }],
      });
      const landed = launchIntent({ offering: PER_SECOND_100, count: 1 });
      const done = launchIntent({ offering: PER_SECOND_100, count: 1, state: 'done' });
      const agents = [
        cloudInterval({ intentId: young.id }),
        cloudInterval({ intentId: landed.id }),
        cloudInterval({ intentId: null }),
      ];
      const nowMs = T0 + 30_000;
      // The store's open intents hold terminations too; a list typed as launches may still carry one.
      const stray = terminateIntent() as unknown as LaunchIntent;
      const launches = inFlightLaunches([young, old, landed, done, stray], agents, nowMs, TIMING);
      assert.deepEqual(
        launches.map((l) => [l.intent.id, l.count, l.reserveMicros, l.owners]),
        [
          // Until max(now, T0 + 120 s) + 120 s = T0 + 240 s: 240 s x 100. One of its 3 instances is in the ledger.
          [
            young.id,
            2,
            24_000,
            [
              { owner: ML, share: 0.75 },
              { owner: WEB, share: 0.25 },
            ],
          ],
          // Written an hour ago, allowance long past: until now + 120 s, from its writing: 3,750 s x 100.
          [old.id, 1, 375_000, [{ owner: ML, share: 1 }]],
        ],
      );
    });

    it('reserves a new launch for the allowance and horizon, and never less than the 60 s minimum', () => {
      assert.equal(newLaunchReserveMicros('aws-ec2', 360_000, TIMING), 24_000);
      const quick = { passIntervalMs: 5_000, terminationAllowanceMs: 5_000, launchAllowanceMs: 10_000 };
      assert.equal(newLaunchReserveMicros('gcp-compute', 360_000, quick), 6_000);
    });
  });

  it('charges a launch to a scope by its owners’ shares, and wholly to a global budget even with no owner', () => {
    const owners = [
      { owner: ML, share: 0.75 },
      { owner: WEB, share: 0.25 },
    ];
    assert.equal(launchShare({ kind: 'team', team: 'ml' }, owners), 0.75);
    assert.equal(launchShare({ kind: 'team', team: 'ops' }, owners), 0);
    assert.equal(launchShare({ kind: 'global' }, owners), 1);
    assert.equal(launchShare({ kind: 'global' }, []), 1);
  });

  it('normalizes launch owner shares, dropping shares that are not positive and finite', () => {
    assert.deepEqual(
      normalizedShares([
        { owner: ML, share: 2 },
        { owner: WEB, share: Number.NaN },
        { owner: owner('x'), share: -1 },
        { owner: owner('y'), share: 0 },
        { owner: owner('z'), share: 6 },
      ]),
      [
        { owner: ML, share: 0.25 },
        { owner: owner('z'), share: 0.75 },
      ],
    );
    assert.deepEqual(normalizedShares([{ owner: ML, share: 0 }]), []);
    assert.deepEqual(normalizedShares([{ owner: ML, share: Infinity }]), []);
  });

  describe('an agent', () => {
    const running = (extra = {}) =>
      cloudInterval({ startMs: T0 - HOUR, endMs: null, owners: [{ owner: WEB, share: 1 }], ...extra });

    it('whose termination was decided costs only until that decision’s allowance runs out', () => {
      // Decided 20 s ago with 60 s to stop: 40 s more, 4,000, kept or stopped.
      const e = new AgentExposure(running(), { tasks: [], ranFor: [] }, T0, TIMING, T0 - 20_000);
      assert.deepEqual([e.keepMicros, e.stopMicros, e.terminating, e.open], [4_000, 4_000, true, true]);
      // Decided 90 s ago: the allowance is over, nothing more.
      const late = new AgentExposure(running(), { tasks: [], ranFor: [] }, T0, TIMING, T0 - 90_000);
      assert.deepEqual([late.keepMicros, late.open, late.exposure({ kind: 'global' })], [0, false, 0]);
      assert.equal(late.touches({ kind: 'global' }), false);
    });

    it('costs nothing more once closed, or when private', () => {
      const closed = new AgentExposure(running({ endMs: T0 - 1 }), { tasks: [], ranFor: [] }, T0, TIMING);
      const rack = new AgentExposure(running({ lifecycle: 'private' }), { tasks: [], ranFor: [] }, T0, TIMING);
      for (const e of [closed, rack]) {
        assert.deepEqual([e.keepMicros, e.stopMicros, e.open, e.exposure({ kind: 'global' })], [0, 0, false, 0]);
      }
    });

    it('exposes a scope by its share now until the stop, and by what is left after its stopped tasks', () => {
      // Kept: 120 s = 12,000; stopped: 60 s = 6,000. ml runs t1 at 0.5 and t2 at 0.25 of it.
      const e = new AgentExposure(
        running(),
        {
          tasks: [
            { taskId: 't1', owner: ML, share: 0.5 },
            { taskId: 't2', owner: ML, share: 0.25 },
          ],
          ranFor: [ML],
        },
        T0,
        TIMING,
      );
      assert.deepEqual([e.keepMicros, e.stopMicros, e.terminating], [12_000, 6_000, false]);
      assert.equal(e.exposure({ kind: 'team', team: 'ml' }), 9_000);
      assert.equal(e.exposure({ kind: 'global' }), 12_000);
      e.stoppedTaskIds.add('t1');
      // 0.75 x 6,000 until the stop, then 0.25 x 6,000.
      assert.equal(e.exposure({ kind: 'team', team: 'ml' }), 6_000);
      e.terminated = true;
      assert.equal(e.exposure({ kind: 'team', team: 'ml' }), 4_500);
      assert.equal(e.touches({ kind: 'team', team: 'ml' }), true);
      assert.equal(e.touches({ kind: 'team', team: 'ops' }), false);
    });

    it('allows two micro-USD of rounding per part: two parts per owner of the scope, plus one', () => {
      const e = new AgentExposure(
        running({ owners: [{ owner: owner('ml', 'p0'), share: 1 }] }),
        { tasks: [{ taskId: 't1', owner: owner('ml', 'p1'), share: 0.5 }], ranFor: [owner('ml', 'p2')] },
        T0,
        TIMING,
      );
      // ml: p0 (launched it), p1 (runs on it), p2 (ran on it): 2 x (2 x 3 + 1) = 14.
      assert.equal(e.roundingMicros({ kind: 'team', team: 'ml' }), 14);
      assert.equal(e.roundingMicros({ kind: 'project', project: 'p2' }), 6);
      assert.equal(e.roundingMicros({ kind: 'team', team: 'web' }), 0);
    });
  });
});
