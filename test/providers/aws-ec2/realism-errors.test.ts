import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { AuthError, ProviderError, ThrottledError } from '../../../src/core/errors.ts';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import { PASS_MS, startControllerFixture, type ControllerFixture } from './controller-fixture.ts';
import { launchRequest, startFixture, type Fixture } from './fixture.ts';

describe('aws-ec2 against a less polite EC2: bare statuses, HTML 5xx pages, expiring tokens (emulator realism)', () => {
  let fx: Fixture | undefined;
  let cfx: ControllerFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    await cfx?.close();
    fx = cfx = undefined;
  });

  it('reads a 5xx with an HTML body as a retryable failure that may have taken effect', async () => {
    fx = await startFixture({ emulator: { realism: { htmlServerErrors: true } } });
    fx.emulator.injectFault({ kind: 'error', action: 'RunInstances', code: 'InternalError', status: 502 });
    const err = await fx.provider.launch(await launchRequest(fx.provider)).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && err.retryable, String(err));
    fx.emulator.injectFault({ kind: 'error', action: 'DescribeInstances', code: 'Unavailable', status: 503 });
    const listErr = await fx.provider.list('test-cluster').catch((e: unknown) => e);
    assert.ok(listErr instanceof ProviderError && listErr.retryable, String(listErr));
  });

  it('reads a bare 4xx as a refusal (not retried), a bare 5xx as retryable, and never as something it does not say', async () => {
    fx = await startFixture({ emulator: { realism: { bareErrors: true } } });
    fx.emulator.injectFault({ kind: 'error', action: 'RunInstances', code: 'InvalidParameterValue', status: 400 });
    const refused = await fx.provider.launch(await launchRequest(fx.provider)).catch((e: unknown) => e);
    assert.ok(refused instanceof ProviderError && !refused.retryable, String(refused));
    assert.ok(!(refused instanceof AuthError) && !(refused instanceof ThrottledError));
    fx.emulator.injectFault({ kind: 'error', action: 'RunInstances', code: 'InternalError', status: 500 });
    const failed = await fx.provider.launch(await launchRequest(fx.provider)).catch((e: unknown) => e);
    assert.ok(failed instanceof ProviderError && failed.retryable, String(failed));
    assert.equal(fx.emulator.instances().length, 0);
  });

  it('a ClientToken EC2 has forgotten does not double a launch whose answer was lost: reconcile adopts first', async () => {
    cfx = await startControllerFixture({
      emulator: { realism: { idempotency: { expiresAfterMs: 60_000 } } },
      settings: { reconcileEveryPasses: 1 },
    });
    cfx.submit(2, { cpuMillis: 2_000 });
    cfx.emulator.injectFault({ kind: 'lose-response', action: 'RunInstances' });
    await cfx.pass();
    const [intent] = cfx.store.intents.launches(0);
    assert.equal(intent!.state, 'pending');
    cfx.clock.advance(120_000); // the token is forgotten
    await cfx.pass();
    cfx.clock.advance(PASS_MS);
    await cfx.pass();
    assert.equal(cfx.emulator.instances().length, 2, 'no second pair');
    assert.equal(cfx.emulator.calls.filter((c) => c.action === 'RunInstances').length, 1);
    assert.equal((cfx.store.intents.get(intent!.id) as LaunchIntent).state, 'done');
  });
});
