import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { TokenBucket } from '../../src/autoscaler/token-bucket.ts';
import { ManualClock } from '../../src/core/clock.ts';

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('token bucket', () => {
  it('allows a burst up to its capacity, then refills on the clock', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(clock, { capacity: 5, refillPerSecond: 2 });
    for (let i = 0; i < 5; i++) assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.tryTake(), false);
    clock.advance(499);
    assert.equal(bucket.tryTake(), false);
    clock.advance(1);
    assert.equal(bucket.tryTake(), true);
  });

  it('makes waiting takers wait for clock time, in arrival order', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(clock, { capacity: 1, refillPerSecond: 1 });
    const order: number[] = [];
    const takes = [1, 2, 3].map((n) => bucket.take().then(() => order.push(n)));
    await flush();
    assert.deepEqual(order, [1]);
    for (let i = 0; i < 4 && order.length < 3; i++) {
      clock.set(clock.nextWakeAt() ?? clock.now());
      await flush();
    }
    await Promise.all(takes);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(clock.now() - Date.UTC(2026, 0, 1), 2000);
  });

  it('rejects nonsense options naming the option', () => {
    assert.throws(() => new TokenBucket(new ManualClock(), { capacity: 0, refillPerSecond: 1 }), /capacity must be > 0, got 0/);
    assert.throws(() => new TokenBucket(new ManualClock(), { capacity: 1, refillPerSecond: -1 }), /refillPerSecond/);
  });
});
