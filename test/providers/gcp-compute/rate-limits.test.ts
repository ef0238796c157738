import assert from 'node:assert/strict';
import fc from 'fast-check';
import { afterEach, describe, it } from 'mocha';
import { ManualClock } from '../../../src/core/clock.ts';
import { GCE_DEFAULT_RATE_LIMITS } from '../../../src/config/gcp-compute-schema.ts';
import { clientBucketPerMinute, GceRateLimiter } from '../../../src/providers/gcp-compute/gce-rate-limits.ts';
import { RateQuotas } from '../../emulators/gce/gce-rate-quotas.ts';
import { drive, gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

/** Runs of the property: SPILLWAY_PROPERTY_RUNS (CI sets 1000), default 50. */
const PROPERTY_RUNS = Number(process.env.SPILLWAY_PROPERTY_RUNS ?? 50);

describe('gcp-compute client-side rate limits', () => {
  let fx: GceFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('defaults to the documented 1,500 requests per minute, holding a fifth as burst', () => {
    assert.deepEqual(GCE_DEFAULT_RATE_LIMITS, {
      mutationsPerMinute: 1_500,
      listsPerMinute: 1_500,
      operationReadsPerMinute: 1_500,
    });
    assert.deepEqual(clientBucketPerMinute(1_500), { capacity: 300, refillPerSecond: 20 });
  });

  it('never takes more than GCE allows in a minute, whatever the phase of its minutes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 59_999 }),
        async (perMinute, phaseMs) => {
          const clock = new ManualClock(60_000_000 + phaseMs);
          const limiter = new GceRateLimiter(clock, {
            mutationsPerMinute: perMinute,
            listsPerMinute: perMinute,
            operationReadsPerMinute: perMinute,
          });
          const server = new RateQuotas(clock, { mutations: perMinute, lists: perMinute, operationReads: perMinute });
          let refused = 0;
          for (let i = 0; i < perMinute * 3; i++) {
            const turn = limiter.mutation();
            let done = false;
            void turn.then(() => (done = true));
            while (!done) {
              await new Promise((resolve) => setImmediate(resolve));
              if (done) break;
              const next = clock.nextWakeAt();
              if (next !== undefined) clock.set(next);
            }
            if (!server.tryTake('mutations')) refused++;
          }
          assert.equal(refused, 0);
        },
      ),
      { numRuns: PROPERTY_RUNS },
    );
  });

  it('rejects a call queued behind another as soon as its signal aborts, and keeps the queue in order', async () => {
    const clock = new ManualClock();
    const limiter = new GceRateLimiter(clock, {
      mutationsPerMinute: 5,
      listsPerMinute: 5,
      operationReadsPerMinute: 5,
    });
    await limiter.mutation(); // the one burst token
    const settled: string[] = [];
    const second = limiter.mutation().then(() => settled.push('second'));
    const abort = new AbortController();
    const third = limiter.mutation(abort.signal).then(
      () => settled.push('third'),
      (err: unknown) => settled.push(`third aborted: ${(err as Error).name}`),
    );
    const fourth = limiter.mutation().then(() => settled.push('fourth'));
    await new Promise((resolve) => setImmediate(resolve));
    abort.abort();
    await third;
    assert.deepEqual(settled, ['third aborted: AbortError'], 'no clock step was needed');
    clock.advance(15_000);
    await second;
    assert.deepEqual(settled, ['third aborted: AbortError', 'second'], 'the fourth still waits for its own token');
    clock.advance(15_000);
    await fourth;
    assert.deepEqual(settled, ['third aborted: AbortError', 'second', 'fourth']);
  });

  it('keeps a burst of launches within the emulator-enforced mutation quota, on the clock', async () => {
    const clock = new ManualClock();
    fx = await startGceFixture({
      clock,
      emulator: { rateQuotas: { mutations: 5, lists: 1_000, operationReads: 1_000 } },
      config: { rateLimits: { mutationsPerMinute: 5, listsPerMinute: 1_000, operationReadsPerMinute: 1_000 } },
    });
    const startMs = clock.now();
    const requests = await Promise.all(Array.from({ length: 8 }, () => gceLaunchRequest(fx!.provider)));
    const launched = await drive(clock, fx.emulator, Promise.all(requests.map((r) => fx!.provider.launch(r))));
    assert.equal(launched.flat().length, 8);
    assert.equal(fx.emulator.calls.filter((c) => c.reason === 'rateLimitExceeded').length, 0, 'never throttled');
    assert.ok(clock.now() - startMs >= 60_000, 'spread over more than a minute of the clock');
  });
});
