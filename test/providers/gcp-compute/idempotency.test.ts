import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { ManualClock } from '../../../src/core/clock.ts';
import { ProviderError } from '../../../src/core/errors.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { GcpComputeProvider } from '../../../src/providers/gcp-compute/gcp-compute-provider.ts';
import { EMULATOR_ACCESS_TOKEN } from '../../emulators/gce/gce-emulator.ts';
import {
  catalogBook,
  gceLaunchRequest,
  gceProviderConfig,
  startGceFixture,
  UNTHROTTLED,
  type GceFixture,
} from './fixture.ts';

describe('gcp-compute idempotency: one instance per intent, whatever is lost or forgotten', () => {
  let fx: GceFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  async function lostFirstInsert(f: GceFixture, count = 1) {
    const request = await gceLaunchRequest(f.provider, {}, { count });
    f.emulator.injectFault({ kind: 'lose-response', action: count === 1 ? 'insert' : 'bulkInsert' });
    const err = await f.provider.launch(request).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && err.retryable, `the lost answer is retryable: ${String(err)}`);
    assert.equal(f.emulator.instances().length, count, 'the lost call took effect');
    return request;
  }

  it('an insert retried after its answer was lost creates exactly one instance (same requestId)', async () => {
    fx = await startGceFixture();
    const request = await lostFirstInsert(fx);
    const [again] = await fx.provider.launch(request);
    assert.equal(fx.emulator.instances().length, 1);
    assert.equal(again!.id, fx.emulator.instanceId(fx.emulator.instances()[0]!));
    assert.deepEqual(
      fx.emulator.callsOf('insert').map((c) => [c.status, c.requestId]),
      [
        [0, request.intentId],
        [200, request.intentId],
      ],
      'GCE deduplicated the second insert by its requestId',
    );
  });

  it('a bulk insert retried after its answer was lost creates each instance once', async () => {
    fx = await startGceFixture();
    const request = await lostFirstInsert(fx, 3);
    const again = await fx.provider.launch(request);
    assert.equal(again.length, 3);
    assert.equal(fx.emulator.instances().length, 3);
  });

  it('after GCE forgot the requestId, the retry finds the intent by its label and sends nothing', async () => {
    const clock = new ManualClock();
    fx = await startGceFixture({ clock, emulator: { requestIdTtlMs: 60_000 }, config: { requestIdTrustMs: 30_000 } });
    const request = await lostFirstInsert(fx);
    clock.advance(120_000);
    const [again] = await fx.provider.launch(request);
    assert.equal(again!.intentId, request.intentId);
    assert.equal(fx.emulator.instances().length, 1);
    assert.equal(fx.emulator.callsOf('insert').length, 1, 'no second insert');
  });

  it('a restarted controller looks the intent up by label before sending it again', async () => {
    fx = await startGceFixture();
    const request = await lostFirstInsert(fx);
    const restarted = new GcpComputeProvider({
      config: gceProviderConfig(fx.emulator, { rateLimits: UNTHROTTLED }),
      clock: fx.clock,
      logger: silentLogger(),
      accessToken: EMULATOR_ACCESS_TOKEN,
      priceBook: await catalogBook(),
    });
    try {
      const [again] = await restarted.launch(request);
      assert.equal(again!.intentId, request.intentId);
      assert.equal(fx.emulator.callsOf('insert').length, 1, 'no second insert');
      assert.equal(fx.emulator.instances().length, 1);
    } finally {
      await restarted.close();
    }
  });

  it('when the requestId is forgotten while still trusted, the instance name (409 alreadyExists) stops a duplicate', async () => {
    const clock = new ManualClock();
    fx = await startGceFixture({
      clock,
      emulator: { requestIdTtlMs: 10_000 },
      config: { requestIdTrustMs: 3_600_000 },
    });
    const request = await lostFirstInsert(fx);
    clock.advance(20_000);
    const [again] = await fx.provider.launch(request);
    assert.equal(again!.intentId, request.intentId);
    assert.deepEqual(
      fx.emulator.callsOf('insert').map((c) => [c.status, c.reason]),
      [
        [0, undefined],
        [409, 'alreadyExists'],
      ],
    );
    assert.equal(fx.emulator.instances().length, 1);
  });

  it('does not report instances a 409 did not show to exist: it looks them up, and a retry creates them', async () => {
    fx = await startGceFixture();
    const request = await gceLaunchRequest(fx.provider);
    fx.emulator.injectFault({ kind: 'error', action: 'insert', status: 409, code: 'conflict', message: 'Conflict' });
    const err = await fx.provider.launch(request).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && err.retryable, `no instance of the intent exists: ${String(err)}`);
    assert.equal(fx.emulator.instances().length, 0);
    const [again] = await fx.provider.launch(request);
    assert.equal(again!.id, fx.emulator.instanceId(fx.emulator.instances()[0]!));
  });
});
