import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  billedMicros,
  billedSecondsOf,
  microsForSeconds,
  PER_SECOND_60S_MINIMUM,
  runningMicros,
  type BillingRule,
} from '../../src/cost-model/billing.ts';

/** A rule with a coarser increment than any cloud uses today: per started minute, no minimum. */
const PER_MINUTE: BillingRule = { incrementSeconds: 60, minimumSeconds: 0 };

describe('billing edges', () => {
  describe('billed seconds', () => {
    const cases = [
      { name: 'a started minute as a whole one', rule: PER_MINUTE, ms: 61_000, want: 120 },
      { name: 'exactly one minute as one', rule: PER_MINUTE, ms: 60_000, want: 60 },
      { name: 'one millisecond as a whole minute', rule: PER_MINUTE, ms: 1, want: 60 },
      { name: 'three started minutes', rule: PER_MINUTE, ms: 150_500, want: 180 },
      { name: 'a started second as one', rule: PER_SECOND_60S_MINIMUM, ms: 1_001, want: 2 },
      { name: 'no time as nothing', rule: PER_MINUTE, ms: 0, want: 0 },
      { name: 'a negative duration (end before start) as nothing', rule: PER_MINUTE, ms: -61_000, want: 0 },
      { name: 'a negative duration per second as nothing', rule: PER_SECOND_60S_MINIMUM, ms: -5_000, want: 0 },
    ];
    for (const c of cases) {
      it(`counts ${c.name}`, () => assert.equal(billedSecondsOf(c.rule, c.ms), c.want));
    }
  });

  it('bills a coarser increment whole: 61 s per started minute at $3.60/h is two minutes, 120,000 micro-USD', () => {
    // $3.60/h = 3,600,000 micro-USD/h = 1,000 micro-USD/s; two started minutes = 120 s.
    assert.equal(billedMicros(PER_MINUTE, 3_600_000, 0, 61_000), 120_000);
    assert.equal(runningMicros(PER_MINUTE, 3_600_000, 61_000), 120_000);
  });

  it('never bills a negative amount: a negative duration or price costs nothing', () => {
    assert.equal(microsForSeconds(360_000, -10), 0);
    assert.equal(microsForSeconds(-360_000, 10), 0);
    assert.equal(microsForSeconds(-1, 1_800), 0);
    assert.equal(runningMicros(PER_SECOND_60S_MINIMUM, 360_000, -10_000), 0);
    // An end before the start is the same instant: the minimum, 60 s at $0.36/h = 6,000 micro-USD.
    assert.equal(billedMicros(PER_SECOND_60S_MINIMUM, 360_000, 10_000, 0), 6_000);
  });
});
