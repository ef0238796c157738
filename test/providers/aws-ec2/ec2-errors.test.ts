import assert from 'node:assert/strict';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { describe, it } from 'mocha';
import {
  AuthError,
  CapacityError,
  ProviderError,
  QuotaError,
  RefusedError,
  ThrottledError,
} from '../../../src/core/errors.ts';
import {
  ec2ErrorMeaning,
  translateEc2Error,
  type TranslateContext,
} from '../../../src/providers/aws-ec2/ec2-errors.ts';

// The translation on its own, with the SDK's own exception type (as its deserializer throws it: the EC2 code as
// `name`, the HTTP status and request id in `$metadata`) and Node's network errors. The emulator tests
// (errors.test.ts, refusals.test.ts) check the same errors end to end; these pin every message and field.
function answered(
  code: string,
  status: number,
  opts: { requestId?: string; message?: string; Code?: string } = {},
): EC2ServiceException {
  const err = new EC2ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, ...(opts.requestId ? { requestId: opts.requestId } : {}) },
    message: opts.message ?? 'the message',
  });
  if (opts.Code !== undefined) Object.assign(err, { Code: opts.Code });
  return err;
}

function network(code: string | undefined, message: string, name?: string): Error {
  const err = Object.assign(new Error(message), code === undefined ? {} : { code });
  if (name !== undefined) err.name = name;
  return err;
}

const LAUNCH: TranslateContext = {
  doing: 'launching 1 x m7i.large (on-demand) in us-east-1a',
  action: 'RunInstances',
  region: 'us-east-1',
  offeringKey: 'aws-ec2:us-east-1/us-east-1a/m7i.large/on-demand',
  launch: { subnetId: 'subnet-1', template: 'lt-1', instanceType: 'm7i.large' },
};
const TERMINATE: TranslateContext = { doing: 'terminating i-1', action: 'TerminateInstances', region: 'us-east-1' };

describe('aws-ec2 error translation', () => {
  it('reads the code from `Code` before the exception’s name, and from the name only when EC2 answered', () => {
    assert.equal(
      ec2ErrorMeaning(answered('EC2ServiceException', 500, { Code: 'InsufficientInstanceCapacity' })),
      'capacity',
    );
    assert.equal(ec2ErrorMeaning(answered('VcpuLimitExceeded', 400)), 'quota');
    assert.equal(ec2ErrorMeaning(answered('SomethingNew', 503)), 'transient');
    assert.equal(ec2ErrorMeaning(answered('SomethingNew', 400)), 'client');
    assert.equal(
      ec2ErrorMeaning(network(undefined, 'InsufficientInstanceCapacity', 'InsufficientInstanceCapacity')),
      'transient',
    );
  });

  it('says what was being done, the code, the message and the request id, keeping the SDK error as the cause', () => {
    const sdk = answered('InsufficientInstanceCapacity', 500, { requestId: 'req-1', message: 'no room' });
    const err = translateEc2Error(sdk, LAUNCH);
    assert.ok(err instanceof CapacityError);
    assert.equal(
      err.message,
      'launching 1 x m7i.large (on-demand) in us-east-1a: EC2 has no capacity for it now (InsufficientInstanceCapacity: no room) (request req-1)',
    );
    assert.equal(err.offeringKey, LAUNCH.offeringKey);
    assert.equal(err.cause, sdk);
    const noKey = translateEc2Error(answered('InsufficientInstanceCapacity', 500), {
      ...LAUNCH,
      offeringKey: undefined,
    });
    assert.ok(noKey instanceof CapacityError);
    assert.equal(noKey.offeringKey, '');
    assert.ok(!noKey.message.includes('request'), noKey.message);
  });

  it('tells the operator how to fix an account limit, a reused ClientToken and a throttled call', () => {
    const quota = translateEc2Error(answered('VcpuLimitExceeded', 400, { message: 'limit' }), LAUNCH);
    assert.ok(quota instanceof QuotaError);
    assert.equal(
      quota.message,
      `${LAUNCH.doing}: an account limit of us-east-1 is reached (VcpuLimitExceeded: limit); raise the quota in Service Quotas or lower the policy's limits`,
    );
    const mismatch = translateEc2Error(answered('IdempotentParameterMismatch', 400, { message: 'm' }), LAUNCH);
    assert.ok(mismatch instanceof ProviderError && !mismatch.retryable);
    assert.equal(
      mismatch.message,
      `${LAUNCH.doing}: EC2 already ran this ClientToken with other parameters (IdempotentParameterMismatch: m); the intent's launch parameters changed since its first attempt (config edited?), so it cannot be retried as it is`,
    );
    const throttled = translateEc2Error(
      answered('RequestLimitExceeded', 503, { message: 't', requestId: 'r' }),
      LAUNCH,
    );
    assert.ok(throttled instanceof ThrottledError);
    assert.equal(throttled.message, `${LAUNCH.doing}: EC2 throttled the call (RequestLimitExceeded: t) (request r)`);
  });

  it('gives each authentication failure its own advice', () => {
    const unauthorized = translateEc2Error(answered('UnauthorizedOperation', 403, { message: 'encoded' }), LAUNCH);
    assert.ok(unauthorized instanceof AuthError);
    assert.equal(
      unauthorized.message,
      `${LAUNCH.doing}: the controller's AWS identity may not call ec2:RunInstances: allow it in the identity's IAM policy ` +
        '(RunInstances also needs ec2:CreateTags on instances and volumes, ec2:RunInstances on the launch template, ' +
        'subnet and image, and iam:PassRole when the template names an instance profile); ' +
        '`aws sts decode-authorization-message` reads the encoded reason (UnauthorizedOperation: encoded)',
    );
    assert.deepEqual([unauthorized.code, unauthorized.subject], ['UnauthorizedOperation', 'ec2:RunInstances']);
    for (const code of ['OptInRequired', 'PendingVerification', 'Blocked']) {
      const err = translateEc2Error(answered(code, 401, { message: 'x' }), LAUNCH);
      assert.ok(err instanceof AuthError);
      assert.equal(
        err.message,
        `${LAUNCH.doing}: the AWS account cannot use EC2 in us-east-1 yet: enable the region or finish the account's verification (${code}: x)`,
      );
      assert.deepEqual([err.code, err.subject], [code, undefined]);
    }
    const failure = translateEc2Error(answered('AuthFailure', 401, { message: 'bad key' }), LAUNCH);
    assert.ok(failure instanceof AuthError);
    assert.equal(
      failure.message,
      `${LAUNCH.doing}: AWS did not accept the controller's credentials for us-east-1: give it valid ones through the default ` +
        'chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance or pod role), check they ' +
        "have not expired, and that this machine's clock is right (AuthFailure: bad key)",
    );
  });

  it('says which configured thing EC2 refused, and whether the refusal is the provider’s or the offering’s', () => {
    const refusal = (code: string, ctx = LAUNCH, status = 400) => {
      const err = translateEc2Error(answered(code, status), ctx);
      assert.ok(err instanceof RefusedError, `${code}: ${String(err)}`);
      return [err.scope, err.code, err.subject];
    };
    assert.deepEqual(refusal('InvalidSubnetID.NotFound'), ['provider', 'InvalidSubnetID.NotFound', 'subnet-1']);
    assert.deepEqual(refusal('InvalidLaunchTemplateId.NotFound'), [
      'provider',
      'InvalidLaunchTemplateId.NotFound',
      'lt-1',
    ]);
    assert.deepEqual(refusal('InvalidAMIID.NotFound'), ['provider', 'InvalidAMIID.NotFound', 'lt-1']);
    assert.deepEqual(refusal('InvalidGroup.NotFound'), ['provider', 'InvalidGroup.NotFound', undefined]);
    assert.deepEqual(refusal('InvalidParameterValue'), ['offering', 'InvalidParameterValue', 'm7i.large']);
    assert.deepEqual(refusal('InvalidParameterValue', TERMINATE), ['offering', 'InvalidParameterValue', undefined]);
    assert.deepEqual(refusal('InvalidInstanceID.NotFound', TERMINATE), [
      'offering',
      'InvalidInstanceID.NotFound',
      undefined,
    ]);
    // An answer that names no code at all (no `Code`, no name): the refusal is known by its HTTP status.
    const bare = Object.defineProperty(
      Object.assign(new Error('bad request'), { $metadata: { httpStatusCode: 400 } }),
      'name',
      {
        value: undefined,
      },
    );
    const noCode = translateEc2Error(bare, LAUNCH);
    assert.ok(noCode instanceof RefusedError);
    assert.deepEqual([noCode.scope, noCode.code, noCode.subject], ['offering', 'HTTP 400', undefined]);
    assert.equal(noCode.message, `${LAUNCH.doing}: EC2 refused the request (bad request)`);
  });

  it('calls an EC2 failure and a call with no answer retryable, naming the network failure', () => {
    const failed = translateEc2Error(answered('InternalError', 500, { message: 'oops', requestId: 'r-9' }), LAUNCH);
    assert.ok(failed instanceof ProviderError && failed.retryable);
    assert.equal(failed.message, `${LAUNCH.doing}: EC2 failed (InternalError: oops) (request r-9)`);
    const noAnswer = (err: Error) => {
      const translated = translateEc2Error(err, TERMINATE);
      assert.ok(translated instanceof ProviderError && translated.retryable);
      assert.equal(translated.cause, err);
      return translated.message;
    };
    assert.equal(
      noAnswer(network('ECONNRESET', 'socket hang up')),
      'terminating i-1: no answer from EC2 (ECONNRESET: socket hang up); the call may have taken effect',
    );
    assert.equal(
      noAnswer(network(undefined, 'took too long', 'TimeoutError')),
      'terminating i-1: no answer from EC2 (timed out: took too long); the call may have taken effect',
    );
    assert.equal(
      noAnswer(network('ERR_SOMETHING', 'odd')),
      'terminating i-1: no answer from EC2 (odd); the call may have taken effect',
    );
  });
});
