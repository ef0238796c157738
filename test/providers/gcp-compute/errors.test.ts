import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import {
  AuthError,
  CapacityError,
  ProviderError,
  QuotaError,
  ThrottledError,
  refusalOf,
} from '../../../src/core/errors.ts';
import { offeringKey } from '../../../src/core/offering.ts';
import { gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

describe('gcp-compute error translation (HTTP status, ErrorInfo reason and operation error codes)', () => {
  let fx: GceFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  async function launchError(): Promise<unknown> {
    const request = await gceLaunchRequest(fx!.provider);
    return fx!.provider.launch(request).then(
      () => assert.fail('expected the launch to fail'),
      (err: unknown) => err,
    );
  }

  it('reports a stockout that arrives through the zone operation as a CapacityError for the offering', async () => {
    fx = await startGceFixture();
    fx.emulator.setCapacity('e2-standard-2', 'us-central1-a', 'on-demand', 0);
    const request = await gceLaunchRequest(fx.provider);
    const err = await fx.provider.launch(request).catch((e: unknown) => e);
    assert.ok(err instanceof CapacityError, String(err));
    assert.equal(err.offeringKey, offeringKey(request.offering));
    assert.match(err.message, /ZONE_RESOURCE_POOL_EXHAUSTED/);
    assert.deepEqual(
      fx.emulator.callsOf('insert').map((c) => c.status),
      [200],
      'the HTTP answer was a success: the error came with the operation',
    );
    assert.equal(fx.emulator.instances().length, 0);
  });

  it('reports a regional quota reached (operation QUOTA_EXCEEDED) as a QuotaError', async () => {
    fx = await startGceFixture({ emulator: { quotas: { cpus: 1 } } });
    const err = await launchError();
    assert.ok(err instanceof QuotaError, String(err));
    assert.match(err.message, /QUOTA_EXCEEDED/);
    assert.equal(err.retryable, true);
  });

  it('reports a rate quota (403 rateLimitExceeded) as a ThrottledError, not an auth error', async () => {
    fx = await startGceFixture();
    fx.emulator.injectFault({
      kind: 'error',
      action: 'insert',
      status: 403,
      code: 'rateLimitExceeded',
      message: 'Rate Limit Exceeded',
    });
    const err = await launchError();
    assert.ok(err instanceof ThrottledError, String(err));
  });

  it('reports the concurrent-operations limit (403 rateLimitExceeded, CONCURRENT_OPERATIONS_QUOTA_EXCEEDED) as a ThrottledError, no refusal', async () => {
    fx = await startGceFixture();
    fx.emulator.injectFault({
      kind: 'error',
      action: 'insert',
      status: 403,
      code: 'rateLimitExceeded',
      errorInfoReason: 'CONCURRENT_OPERATIONS_QUOTA_EXCEEDED',
      message: 'Rate Limit Exceeded',
    });
    const err = await launchError();
    assert.ok(err instanceof ThrottledError, String(err));
    assert.equal(refusalOf(err), undefined, 'a throttle opens no launch breaker');
    assert.deepEqual(fx.emulator.callsOf('insert').map((c) => c.status), [403]);
  });

  it('reports 429 as a ThrottledError', async () => {
    fx = await startGceFixture();
    fx.emulator.injectFault({
      kind: 'error',
      action: 'insert',
      status: 429,
      code: 'rateLimitExceeded',
      message: 'Too Many Requests',
    });
    assert.ok((await launchError()) instanceof ThrottledError);
    fx.emulator.injectFault({
      kind: 'error',
      action: 'list',
      status: 429,
      code: 'tooManyRequests',
      message: 'Too Many Requests',
    });
    assert.ok((await fx.provider.list('c').catch((e: unknown) => e)) instanceof ThrottledError, 'by status alone');
  });

  it('reports a missing permission as an AuthError naming the permission to grant', async () => {
    fx = await startGceFixture();
    fx.emulator.deny('compute.instances.create');
    const err = await launchError();
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.retryable, false);
    assert.match(
      err.message,
      /may not call compute\.instances\.insert in project spillway-emulated: grant it the permission compute\.instances\.create/,
    );
  });

  it('reports a rejected access token as an AuthError about credentials', async () => {
    fx = await startGceFixture({ provider: { accessToken: 'ya29.wrong' } });
    const err = await fx.provider.list('c').catch((e: unknown) => e);
    assert.ok(err instanceof AuthError, String(err));
    assert.match(err.message, /Application Default Credentials/);
  });

  it('reports 5xx answers and lost connections as retryable ProviderErrors', async () => {
    fx = await startGceFixture();
    fx.emulator.injectFault({
      kind: 'error',
      action: 'insert',
      status: 503,
      code: 'backendError',
      message: 'Backend Error',
    });
    const failed = await launchError();
    assert.ok(failed instanceof ProviderError && failed.retryable, String(failed));
    fx.emulator.injectFault({ kind: 'drop', action: 'insert' });
    const dropped = await launchError();
    assert.ok(dropped instanceof ProviderError && dropped.retryable, String(dropped));
    assert.match(dropped.message, /no answer from Compute Engine/);
    fx.emulator.injectFault({
      kind: 'error',
      action: 'wait',
      status: 500,
      code: 'backendError',
      message: 'Internal Error',
    });
    const waitFailed = await launchError();
    assert.ok(waitFailed instanceof ProviderError && waitFailed.retryable, String(waitFailed));
  });

  it('reports a call that outlives requestTimeoutMs as a retryable ProviderError: no answer came', async () => {
    fx = await startGceFixture({ config: { requestTimeoutMs: 200 } });
    fx.emulator.injectFault({ kind: 'latency', action: 'insert', latencyMs: 1_000 });
    const timedOut = await launchError();
    assert.ok(timedOut instanceof ProviderError && timedOut.retryable, String(timedOut));
    assert.match(timedOut.message, /no answer from Compute Engine/);
    fx.emulator.injectFault({ kind: 'latency', action: 'list', latencyMs: 1_000 });
    const listTimedOut = await fx.provider.list('c').catch((e: unknown) => e);
    assert.ok(listTimedOut instanceof ProviderError && listTimedOut.retryable, String(listTimedOut));
  });

  it('lets zoneOperations.wait hang beyond requestTimeoutMs, as GCE holds it until done (up to two minutes)', async () => {
    // The other calls (the pre-launch lookup, insert) must answer within requestTimeoutMs on a loaded machine too.
    fx = await startGceFixture({ config: { requestTimeoutMs: 1_000 } });
    fx.emulator.injectFault({ kind: 'latency', action: 'wait', latencyMs: 3_000 });
    const request = await gceLaunchRequest(fx.provider);
    const [launched] = await fx.provider.launch(request);
    assert.equal(launched!.intentId, request.intentId);
    assert.equal(fx.emulator.callsOf('wait').length, 1);
  });

  it('reports a refused request (unknown template) as a non-retryable ProviderError', async () => {
    fx = await startGceFixture({ config: { instanceTemplate: 'no-such-template' } });
    const err = await launchError();
    assert.ok(err instanceof ProviderError, String(err));
    assert.equal(err.retryable, false);
  });

  it('never reads message text: the same message with another reason means another error', async () => {
    fx = await startGceFixture();
    const message = 'Quota exceeded for quota metric Rate Limit Exceeded ZONE_RESOURCE_POOL_EXHAUSTED';
    fx.emulator.injectFault({ kind: 'error', action: 'insert', status: 400, code: 'invalid', message });
    const err = await launchError();
    assert.ok(err instanceof ProviderError && !err.retryable, String(err));
  });
});
