import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import {
  billedMicros,
  billingRuleFor,
  microsForSeconds,
  PER_SECOND_60S_MINIMUM,
  PER_SECOND_NO_MINIMUM,
  runningMicros,
} from '../../src/cost-model/billing.ts';
import { billedInWindow, billedThrough } from '../../src/cost-model/ledger.ts';
import { cloudInterval, HOUR, MINUTE, propertyRuns, SECOND, T0 } from './ledger-builders.ts';

describe('billing rules', () => {
  const cases = [
    { name: 'an hour at $0.36/h', price: 360_000, ms: HOUR, want: 360_000 },
    { name: 'a started second as a whole one', price: 360_000, ms: 1_001, want: 6_000 },
    { name: '10 s as the 60 s minimum', price: 360_000, ms: 10 * SECOND, want: 6_000 },
    { name: 'no time at all as the minimum', price: 360_000, ms: 0, want: 6_000 },
    { name: 'exactly the minimum', price: 360_000, ms: MINUTE, want: 6_000 },
    { name: 'just past the minimum', price: 360_000, ms: MINUTE + 1, want: 6_100 },
    {
      name: 'a price under one micro-USD a second ($0.0018/h for 1000 s)',
      price: 1_800,
      ms: 1_000 * SECOND,
      want: 500,
    },
    { name: 'less than half a micro-USD as nothing (rounding down)', price: 1, ms: 1_799 * SECOND, want: 0 },
    { name: 'exactly half a micro-USD as one (rounding half up)', price: 1, ms: 1_800 * SECOND, want: 1 },
    { name: 'a month of a $98.32/h p5 instance', price: 98_320_000, ms: 30 * 24 * HOUR, want: 70_790_400_000 },
    { name: 'a free instance as nothing', price: 0, ms: HOUR, want: 0 },
  ];
  for (const c of cases) {
    it(`bills ${c.name}`, () => {
      assert.equal(billedMicros(PER_SECOND_60S_MINIMUM, c.price, T0, T0 + c.ms), c.want);
    });
  }

  it('bills AWS, GCE and the local provider per second with a 60 s minimum, private capacity without a minimum', () => {
    assert.deepEqual(billingRuleFor('aws-ec2'), PER_SECOND_60S_MINIMUM);
    assert.deepEqual(billingRuleFor('gcp-compute'), PER_SECOND_60S_MINIMUM);
    assert.deepEqual(billingRuleFor('local'), PER_SECOND_60S_MINIMUM);
    assert.deepEqual(billingRuleFor('private'), PER_SECOND_NO_MINIMUM);
    assert.deepEqual(billingRuleFor('some-new-cloud'), PER_SECOND_60S_MINIMUM, 'unknown kinds bill conservatively');
    assert.equal(billedMicros(PER_SECOND_NO_MINIMUM, 360_000, T0, T0 + 10 * SECOND), 1_000);
  });

  it('computes price x seconds / 3600 exactly in integers, rounding half up, for any price and duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000_000_000 }), fc.integer({ min: 0, max: 400 * 24 * 3600 }), (p, s) => {
        const exact = (BigInt(p) * BigInt(s) * 2n + 3600n) / 7200n;
        assert.equal(microsForSeconds(p, s), Number(exact));
      }),
      { numRuns: propertyRuns() },
    );
  });

  it('never bills less than the running time, and both grow with time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000_000 }), fc.nat(10 * HOUR), fc.nat(HOUR), (p, a, b) => {
        const rule = PER_SECOND_60S_MINIMUM;
        assert.ok(billedMicros(rule, p, 0, a) >= runningMicros(rule, p, a));
        assert.ok(billedMicros(rule, p, 0, a + b) >= billedMicros(rule, p, 0, a));
        assert.ok(runningMicros(rule, p, a + b) >= runningMicros(rule, p, a));
      }),
      { numRuns: propertyRuns() },
    );
  });

  describe('the ledger billing function', () => {
    it('charges the running time while an interval lives, and the minimum surplus at its end', () => {
      const short = cloudInterval({ startMs: T0, endMs: T0 + 20 * SECOND });
      assert.equal(billedThrough(short, short.pricePerHourMicros, T0), 0);
      assert.equal(billedThrough(short, short.pricePerHourMicros, T0 + 10 * SECOND), 1_000);
      assert.equal(billedThrough(short, short.pricePerHourMicros, T0 + 20 * SECOND), 6_000);
      assert.equal(billedThrough(short, short.pricePerHourMicros, T0 + HOUR), 6_000);
    });

    it('splits an interval over adjacent windows so the parts add up to its bill', () => {
      const agent = cloudInterval({ startMs: T0 + 500, endMs: T0 + 95_250 });
      const cut = T0 + 30_000;
      const price = agent.pricePerHourMicros;
      const whole = billedInWindow(agent, price, { fromMs: T0, toMs: T0 + HOUR }, T0 + HOUR);
      const first = billedInWindow(agent, price, { fromMs: T0, toMs: cut }, T0 + HOUR);
      const second = billedInWindow(agent, price, { fromMs: cut, toMs: T0 + HOUR }, T0 + HOUR);
      assert.equal(whole, billedMicros(PER_SECOND_60S_MINIMUM, price, agent.startMs, agent.endMs!));
      assert.equal(first + second, whole);
    });

    it('counts an open interval only up to now, without its minimum surplus yet', () => {
      const agent = cloudInterval({ startMs: T0, endMs: null });
      const window = { fromMs: T0, toMs: T0 + HOUR };
      assert.equal(billedInWindow(agent, agent.pricePerHourMicros, window, T0 + 10 * SECOND), 1_000);
      assert.equal(billedInWindow(agent, agent.pricePerHourMicros, window, T0), 0);
    });

    it('bills an interval closed the instant it opened its minimum', () => {
      const agent = cloudInterval({ startMs: T0, endMs: T0 });
      assert.equal(billedInWindow(agent, agent.pricePerHourMicros, { fromMs: T0, toMs: T0 + 1 }, T0 + 5), 6_000);
    });
  });
});
