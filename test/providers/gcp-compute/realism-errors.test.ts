import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { AuthError, ProviderError, ThrottledError } from '../../../src/core/errors.ts';
import { gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

describe('gcp-compute errors without reasons: bare statuses and HTML 5xx pages (emulator realism)', () => {
  let fx: GceFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('a 404 without a reason on delete counts the instance as gone', async () => {
    fx = await startGceFixture({ emulator: { realism: { bareErrors: true } } });
    await fx.provider.terminate(['us-central1-a/spw-never-there-0']);
    assert.deepEqual(
      fx.emulator.callsOf('delete').map((c) => c.status),
      [404],
      'the delete was sent and answered 404 with no reason',
    );
  });

  it('a 409 without a reason on insert is "already exists": the earlier attempt is looked up, not refused', async () => {
    fx = await startGceFixture({ emulator: { realism: { bareErrors: true, idempotency: 'ignored' } } });
    const request = await gceLaunchRequest(fx.provider);
    const [first] = await fx.provider.launch(request);
    // Sent again within requestIdTrustMs (no lookup first) to a server that forgot the requestId: the name conflicts.
    const again = await fx.provider.launch(request);
    assert.deepEqual(
      again.map((i) => i.id),
      [first!.id],
    );
    assert.deepEqual(
      fx.emulator.callsOf('insert').map((c) => c.status),
      [200, 409],
    );
    assert.equal(fx.emulator.history().length, 1, 'one instance was ever created');
  });

  it('reads a bare 403 as a refusal of permissions, a bare 429 as throttling', async () => {
    fx = await startGceFixture({ emulator: { realism: { bareErrors: true } } });
    fx.emulator.deny('compute.instances.create');
    const denied = await fx.provider.launch(await gceLaunchRequest(fx.provider)).catch((e: unknown) => e);
    assert.ok(denied instanceof AuthError, String(denied));
    fx.emulator.allow('compute.instances.create');
    fx.emulator.injectFault({ kind: 'error', action: 'insert', status: 429, code: 'rateLimitExceeded' });
    const throttled = await fx.provider.launch(await gceLaunchRequest(fx.provider)).catch((e: unknown) => e);
    assert.ok(throttled instanceof ThrottledError, String(throttled));
  });

  it('reads a 5xx with an HTML body as a retryable failure, for launches and lists', async () => {
    fx = await startGceFixture({ emulator: { realism: { htmlServerErrors: true } } });
    fx.emulator.injectFault({ kind: 'error', action: 'insert', status: 502, code: 'backendError' });
    const failed = await fx.provider.launch(await gceLaunchRequest(fx.provider)).catch((e: unknown) => e);
    assert.ok(failed instanceof ProviderError && failed.retryable, String(failed));
    fx.emulator.injectFault({ kind: 'error', action: 'list', status: 503, code: 'backendError' });
    const listFailed = await fx.provider.list('test-cluster').catch((e: unknown) => e);
    assert.ok(listFailed instanceof ProviderError && listFailed.retryable, String(listFailed));
  });
});
