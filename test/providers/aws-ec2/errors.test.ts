import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import {
  AuthError,
  CapacityError,
  ProviderError,
  QuotaError,
  ThrottledError,
  type SpillwayError,
} from '../../../src/core/errors.ts';
import { offeringKey } from '../../../src/core/offering.ts';
import { AwsEc2Provider } from '../../../src/providers/aws-ec2/aws-ec2-provider.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { ManualClock, systemClock } from '../../../src/core/clock.ts';
import { CLUSTER, launchRequest, providerConfig, startFixture, UNTHROTTLED, type Fixture } from './fixture.ts';

/** The error `promise` rejects with, checked to be a `type`. */
async function rejection<T extends SpillwayError>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected a ${type.name}, but it resolved`);
}

describe('aws-ec2 provider: EC2 errors become Spillway errors at the boundary', () => {
  let fx: Fixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('turns InsufficientInstanceCapacity into a CapacityError naming the offering, and launches nothing', async () => {
    fx = await startFixture();
    fx.emulator.setCapacity('c7i.large', 'us-east-1a', 'on-demand', 2);
    const request = await launchRequest(fx.provider, {}, { count: 3 });
    const err = await rejection(fx.provider.launch(request), CapacityError);
    assert.equal(err.offeringKey, offeringKey(request.offering));
    assert.ok(err.retryable);
    assert.match(err.message, /launching 3 x c7i\.large \(on-demand\) in us-east-1a.*InsufficientInstanceCapacity/);
    assert.deepEqual(fx.emulator.instances(), []);
  });

  it('turns Unsupported into a CapacityError, so the planner tries another offering', async () => {
    fx = await startFixture();
    fx.emulator.setUnsupported('m7a.large', 'us-east-1b');
    const err = await rejection(
      fx.provider.launch(await launchRequest(fx.provider, { instanceType: 'm7a.large', zone: 'us-east-1b' })),
      CapacityError,
    );
    assert.match(err.message, /Unsupported/);
  });

  it('turns InstanceLimitExceeded and VcpuLimitExceeded into QuotaErrors', async () => {
    fx = await startFixture({ emulator: { quotas: { maxInstances: 4, maxOnDemandVcpus: 4 } } });
    await fx.provider.launch(await launchRequest(fx.provider, {}, { count: 2 }));
    const vcpus = await rejection(fx.provider.launch(await launchRequest(fx.provider, {}, { count: 1 })), QuotaError);
    assert.match(vcpus.message, /VcpuLimitExceeded/);
    await fx.provider.launch(await launchRequest(fx.provider, { lifecycle: 'spot' }, { count: 2 }));
    const instances = await rejection(
      fx.provider.launch(await launchRequest(fx.provider, { lifecycle: 'spot' }, { count: 1 })),
      QuotaError,
    );
    assert.match(instances.message, /InstanceLimitExceeded/);
  });

  it('turns RequestLimitExceeded into a ThrottledError when the client buckets are bypassed', async () => {
    // The emulator's buckets on a clock that does not move: none refills while the 8 calls run, however slowly the
    // machine runs them.
    fx = await startFixture({ provider: { buckets: UNTHROTTLED }, emulator: { clock: new ManualClock(Date.now()) } });
    const requests = await Promise.all(Array.from({ length: 8 }, () => launchRequest(fx!.provider)));
    const results = await Promise.allSettled(requests.map((r) => fx!.provider.launch(r)));
    const throttled = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    assert.equal(throttled.length, 3, 'EC2 allows a burst of 5 RunInstances calls');
    for (const err of throttled) {
      assert.ok(err instanceof ThrottledError);
      assert.match(err.message, /RequestLimitExceeded/);
    }
  });

  it('refuses the same intent id with other parameters (IdempotentParameterMismatch), not retryably', async () => {
    fx = await startFixture();
    const request = await launchRequest(fx.provider, {}, { count: 1 });
    await fx.provider.launch(request);
    const err = await rejection(fx.provider.launch({ ...request, count: 2 }), ProviderError);
    assert.equal(err.retryable, false);
    assert.match(err.message, /IdempotentParameterMismatch/);
    assert.equal(fx.emulator.instances().length, 1);
  });

  it('turns AuthFailure into an AuthError that tells the operator how to fix the credentials', async () => {
    fx = await startFixture();
    const wrongKey = new AwsEc2Provider({
      config: providerConfig(fx.emulator),
      clock: systemClock,
      logger: silentLogger(),
      credentials: { accessKeyId: 'AKIAWRONGKEY00000000', secretAccessKey: 'nope' },
    });
    try {
      const err = await rejection(wrongKey.list(CLUSTER), AuthError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /AuthFailure/);
      assert.match(err.message, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance or pod role/);
    } finally {
      wrongKey.close();
    }
  });

  it('turns UnauthorizedOperation into an AuthError naming the missing permission', async () => {
    fx = await startFixture();
    fx.emulator.deny('RunInstances');
    const err = await rejection(fx.provider.launch(await launchRequest(fx.provider)), AuthError);
    assert.match(err.message, /may not call ec2:RunInstances/);
    assert.match(err.message, /iam:PassRole/);
    assert.match(err.message, /UnauthorizedOperation/);
  });

  it('turns 5xx answers into retryable ProviderErrors', async () => {
    fx = await startFixture();
    fx.emulator.injectFault({ kind: 'error', action: 'RunInstances', code: 'InternalError', status: 500 });
    const err = await rejection(fx.provider.launch(await launchRequest(fx.provider)), ProviderError);
    assert.equal(err.retryable, true);
    assert.match(err.message, /InternalError/);
    fx.emulator.injectFault({ kind: 'error', action: 'DescribeInstances', code: 'Unavailable', status: 503 });
    assert.equal((await rejection(fx.provider.list(CLUSTER), ProviderError)).retryable, true);
  });

  it('turns dropped connections and timeouts into retryable ProviderErrors that say the call may have taken effect', async () => {
    fx = await startFixture({ config: { requestTimeoutMs: 300 } });
    fx.emulator.injectFault({ kind: 'drop', action: 'RunInstances' });
    const dropped = await rejection(fx.provider.launch(await launchRequest(fx.provider)), ProviderError);
    assert.equal(dropped.retryable, true);
    assert.match(dropped.message, /no answer from EC2.*may have taken effect/);
    fx.emulator.injectFault({ kind: 'latency', action: 'DescribeInstances', latencyMs: 1_000 });
    const slow = await rejection(fx.provider.list(CLUSTER), ProviderError);
    assert.equal(slow.retryable, true);
  });

  it('refuses a missing launch template without retrying', async () => {
    fx = await startFixture({ config: { launchTemplate: { name: 'no-such-template' } } });
    const err = await rejection(fx.provider.launch(await launchRequest(fx.provider)), ProviderError);
    assert.equal(err.retryable, false);
    assert.match(err.message, /InvalidLaunchTemplateName\.NotFoundException/);
  });

  it('honours an aborted signal without calling EC2', async () => {
    fx = await startFixture();
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    await assert.rejects(
      fx.provider.launch(await launchRequest(fx.provider), { signal: controller.signal }),
      /shutting down/,
    );
    assert.deepEqual(fx.emulator.calls, []);
  });
});
