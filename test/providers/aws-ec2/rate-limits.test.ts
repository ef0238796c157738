import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { ManualClock } from '../../../src/core/clock.ts';
import {
  clientBucket,
  EC2_DOCUMENTED_BUCKETS,
  Ec2RateLimiter,
} from '../../../src/providers/aws-ec2/ec2-rate-limits.ts';
import { DiscreteBucket, EC2_BUCKETS } from '../../emulators/ec2/emulator-buckets.ts';

const RUNS = Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100);

/** Steps the clock to each next sleeper until `promise` settles; returns the clock time it settled at. */
async function settle(clock: ManualClock, promise: Promise<unknown>): Promise<number> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (;;) {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    if (done) return clock.now();
    const next = clock.nextWakeAt();
    assert.ok(next !== undefined, 'something waits on the clock');
    clock.set(next);
  }
}

describe('aws-ec2 client-side rate limits', () => {
  it('holds one second of refill less than each EC2 bucket', () => {
    assert.deepEqual(clientBucket(EC2_DOCUMENTED_BUCKETS.runInstancesRequests), { capacity: 3, refillPerSecond: 2 });
    assert.deepEqual(clientBucket(EC2_DOCUMENTED_BUCKETS.runInstancesInstances), { capacity: 998, refillPerSecond: 2 });
    assert.deepEqual(clientBucket(EC2_DOCUMENTED_BUCKETS.describeRequests), { capacity: 80, refillPerSecond: 20 });
    const limiter = new Ec2RateLimiter(new ManualClock());
    assert.equal(limiter.maxInstancesPerRun, 998);
    assert.equal(limiter.maxInstancesPerTerminate, 980);
  });

  it('never takes more than EC2 allows, whatever the phase of its once-a-second refill (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 999 }),
        fc.array(fc.record({ count: fc.integer({ min: 1, max: 998 }), gapMs: fc.integer({ min: 0, max: 3_000 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        async (phaseMs, calls) => {
          const clock = new ManualClock(Date.UTC(2026, 0, 1) + phaseMs);
          const limiter = new Ec2RateLimiter(clock);
          const requests = new DiscreteBucket(clock, EC2_BUCKETS.runInstancesRequests);
          const instances = new DiscreteBucket(clock, EC2_BUCKETS.runInstancesInstances);
          for (const call of calls) {
            clock.advance(call.gapMs);
            await settle(clock, limiter.runInstances(call.count));
            assert.ok(requests.tryTake(1), 'EC2 has a request token');
            assert.ok(instances.tryTake(call.count), `EC2 has ${call.count} instance tokens`);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('lets a Describe through while a RunInstances waits for instance tokens', async () => {
    const clock = new ManualClock();
    const limiter = new Ec2RateLimiter(clock);
    await limiter.runInstances(998);
    let launched = false;
    const waiting = limiter.runInstances(998).then(() => (launched = true));
    await limiter.describe();
    assert.equal(launched, false, 'the launch still waits');
    await settle(clock, waiting);
    assert.ok(launched);
  });

  it('refuses a call larger than a bucket instead of waiting forever', async () => {
    const limiter = new Ec2RateLimiter(new ManualClock());
    await assert.rejects(limiter.runInstances(999), RangeError);
  });
});
