import assert from 'node:assert/strict';
import { GoogleError } from 'google-gax';
import { describe, it } from 'mocha';
import {
  AuthError,
  CapacityError,
  ProviderError,
  QuotaError,
  RefusedError,
  ThrottledError,
} from '../../../src/core/errors.ts';
import type { GceOperation } from '../../../src/providers/gcp-compute/gce-api.ts';
import {
  GceOperationFailed,
  gceErrorMeaning,
  translateGceError,
  type GceTranslateContext,
} from '../../../src/providers/gcp-compute/gce-errors.ts';

// The translation on its own, with the client library's own error type (a GoogleError with the gRPC status the REST
// transport derives, the ErrorInfo reason and metadata), failed zone operations and answers that never came. The
// emulator tests (errors.test.ts, refusals.test.ts) check the same errors end to end; these pin every message and field.
function answered(code: number, message: string, reason?: string, permission?: string): GoogleError {
  const err = new GoogleError(message);
  err.code = code;
  if (reason !== undefined) err.reason = reason;
  if (permission !== undefined) err.errorInfoMetadata = { permission };
  return err;
}

function operation(errors: { code?: string; message?: string }[], httpErrorStatusCode?: number): GceOperationFailed {
  const op: GceOperation = { name: 'op-1', error: { errors }, ...(httpErrorStatusCode ? { httpErrorStatusCode } : {}) };
  return new GceOperationFailed(op);
}

const LAUNCH: GceTranslateContext = {
  doing: 'launching 1 x n2-standard-2 (on-demand) in us-central1-a',
  call: 'compute.instances.insert',
  permissions: ['compute.instances.create', 'compute.instances.setLabels'],
  project: 'proj-1',
  region: 'us-central1',
  offeringKey: 'gcp-compute:us-central1/us-central1-a/n2-standard-2/on-demand',
  launch: { template: 'tpl-1', instanceType: 'n2-standard-2' },
};
const DELETE: GceTranslateContext = {
  doing: 'deleting vm-1',
  call: 'compute.instances.delete',
  permissions: ['compute.instances.delete'],
  project: 'proj-1',
  region: 'us-central1',
};
const CREDENTIALS =
  "Google did not accept the controller's credentials: give it Application Default Credentials " +
  '(GOOGLE_APPLICATION_CREDENTIALS naming a key file, `gcloud auth application-default login`, or an attached ' +
  "service account or workload identity) and check that this machine's clock is right";

describe('gcp-compute error translation', () => {
  it('reads a failed operation by its first known error code, then by its HTTP status', () => {
    const stockout = operation(
      [
        { code: 'SOMETHING_ELSE', message: 'a' },
        { code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: 'b' },
      ],
      503,
    );
    assert.equal(stockout.message, 'SOMETHING_ELSE: a; ZONE_RESOURCE_POOL_EXHAUSTED: b');
    const capacity = translateGceError(stockout, LAUNCH);
    assert.ok(capacity instanceof CapacityError);
    assert.equal(
      capacity.message,
      `${LAUNCH.doing}: Compute Engine has no capacity for it now (ZONE_RESOURCE_POOL_EXHAUSTED: SOMETHING_ELSE: a; ZONE_RESOURCE_POOL_EXHAUSTED: b)`,
    );
    assert.equal(capacity.offeringKey, LAUNCH.offeringKey);
    assert.equal(capacity.cause, stockout);
    const noKey = translateGceError(stockout, { ...LAUNCH, offeringKey: undefined });
    assert.ok(noKey instanceof CapacityError);
    assert.equal(noKey.offeringKey, '');

    assert.equal(gceErrorMeaning(operation([{ code: 'WEIRD', message: 'm' }], 500)), 'transient');
    assert.equal(gceErrorMeaning(operation([{ code: 'WEIRD', message: 'm' }], 429)), 'throttled');
    assert.equal(gceErrorMeaning(operation([{ code: 'WEIRD', message: 'm' }], 400)), 'client');
    const failed = translateGceError(operation([{ code: 'WEIRD', message: 'm' }], 500), LAUNCH);
    assert.ok(failed instanceof ProviderError && failed.retryable);
    assert.equal(failed.message, `${LAUNCH.doing}: Compute Engine failed (WEIRD: WEIRD: m)`);

    const bare = operation([], 400);
    assert.equal(bare.message, 'the operation failed');
    const refused = translateGceError(bare, LAUNCH);
    assert.ok(refused instanceof RefusedError);
    assert.deepEqual([refused.scope, refused.code, refused.subject], ['offering', 'HTTP 400', 'n2-standard-2']);
    assert.equal(refused.message, `${LAUNCH.doing}: Compute Engine refused the request (the operation failed)`);
    assert.equal(operation([{}]).message, 'UNKNOWN: ');
    // HTTP 501 is UNIMPLEMENTED's status: an unsupported call refuses every launch of the provider, no retry helps.
    assert.equal(gceErrorMeaning(operation([], 501)), 'client');
    const unsupported = translateGceError(operation([], 501), LAUNCH);
    assert.ok(unsupported instanceof RefusedError && !unsupported.retryable);
    assert.deepEqual([unsupported.scope, unsupported.code, unsupported.subject], ['provider', 'HTTP 501', 'tpl-1']);
  });

  it('names a failed operation’s errors, or says it failed when it names none', () => {
    const none = new GceOperationFailed({ name: 'op-2' });
    assert.equal(none.name, 'GceOperationFailed');
    assert.equal(none.message, 'the operation failed');
    assert.equal(new GceOperationFailed({ name: 'op-3', error: {} }).message, 'the operation failed');
    // A failed operation did answer: it is a failure of Compute Engine's, not a missing answer.
    const failed = translateGceError(new GceOperationFailed({ name: 'op-4', httpErrorStatusCode: 500 }), LAUNCH);
    assert.equal(failed.message, `${LAUNCH.doing}: Compute Engine failed (the operation failed)`);
    const internal = translateGceError(operation([{ code: 'INTERNAL_ERROR', message: 'x' }]), LAUNCH);
    assert.ok(internal instanceof ProviderError && internal.retryable);
    assert.equal(internal.message, `${LAUNCH.doing}: Compute Engine failed (INTERNAL_ERROR: INTERNAL_ERROR: x)`);
  });

  it('reads only a non-empty string as an ErrorInfo reason', () => {
    const odd = Object.assign(new Error('denied'), { code: 7, reason: 7 });
    const err = translateGceError(odd, LAUNCH);
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'PERMISSION_DENIED');
  });

  it('calls a call with no answer retryable and says it may have taken effect', () => {
    const noAnswer = (err: unknown) => {
      const translated = translateGceError(err, DELETE);
      assert.ok(translated instanceof ProviderError && translated.retryable, String(translated));
      assert.equal(translated.cause, err);
      return translated.message;
    };
    const timeout = new DOMException('The operation timed out.', 'TimeoutError');
    assert.equal(
      noAnswer(timeout),
      'deleting vm-1: no answer from Compute Engine (The operation timed out.); the call may have taken effect',
    );
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    assert.equal(
      noAnswer(reset),
      'deleting vm-1: no answer from Compute Engine (socket hang up); the call may have taken effect',
    );
    assert.equal(
      noAnswer('boom'),
      'deleting vm-1: no answer from Compute Engine (boom); the call may have taken effect',
    );
    for (const code of [2, 4, 13, 14]) {
      assert.equal(noAnswer(answered(code, 'server side')), 'deleting vm-1: Compute Engine failed (server side)');
    }
  });

  it('tells a quota from a rate limit, by reason first and status second', () => {
    const quota = translateGceError(answered(8, 'q', 'QUOTA_EXCEEDED'), LAUNCH);
    assert.ok(quota instanceof QuotaError);
    assert.equal(
      quota.message,
      `${LAUNCH.doing}: a quota of project proj-1 in us-central1 is reached (QUOTA_EXCEEDED: q); raise it on the console's Quotas page or lower the policy's limits`,
    );
    for (const err of [
      answered(8, 'slow down'),
      answered(8, 'slow down', ''),
      answered(7, 'slow down', 'CONCURRENT_OPERATIONS_QUOTA_EXCEEDED'),
    ]) {
      const throttled = translateGceError(err, LAUNCH);
      assert.ok(throttled instanceof ThrottledError, String(throttled));
      assert.match(
        throttled.message,
        /^launching .*: Compute Engine throttled the call \((CONCURRENT_OPERATIONS_QUOTA_EXCEEDED: )?slow down\)$/,
      );
    }
  });

  it('gives each authentication or permission failure its own advice, code and subject', () => {
    const auth = (err: GoogleError, ctx = LAUNCH) => {
      const translated = translateGceError(err, ctx);
      assert.ok(translated instanceof AuthError, String(translated));
      return [translated.message, translated.code, translated.subject];
    };
    assert.deepEqual(auth(answered(7, 'denied', 'IAM_PERMISSION_DENIED', 'compute.instances.create')), [
      `${LAUNCH.doing}: the controller's service account may not call compute.instances.insert in project proj-1: grant it the permission compute.instances.create (infra/ grants exactly the list in providers/gcp-compute/api-calls.ts) (IAM_PERMISSION_DENIED: denied)`,
      'IAM_PERMISSION_DENIED',
      'compute.instances.create',
    ]);
    assert.deepEqual(auth(answered(7, 'denied')), [
      `${LAUNCH.doing}: the controller's service account may not call compute.instances.insert in project proj-1: grant it these permissions compute.instances.create, compute.instances.setLabels (infra/ grants exactly the list in providers/gcp-compute/api-calls.ts) (denied)`,
      'PERMISSION_DENIED',
      'compute.instances.insert',
    ]);
    assert.deepEqual(auth(answered(16, 'who are you')), [
      `${LAUNCH.doing}: ${CREDENTIALS} (who are you)`,
      'UNAUTHENTICATED',
      undefined,
    ]);
    for (const reason of ['ACCESS_TOKEN_EXPIRED', 'ACCESS_TOKEN_TYPE_UNSUPPORTED', 'CREDENTIALS_MISSING']) {
      assert.deepEqual(auth(answered(7, 'no', reason)), [
        `${LAUNCH.doing}: ${CREDENTIALS} (${reason}: no)`,
        reason,
        'compute.instances.insert',
      ]);
    }
    assert.deepEqual(auth(answered(7, 'off', 'SERVICE_DISABLED')), [
      `${LAUNCH.doing}: the Compute Engine API is not enabled in project proj-1: \`gcloud services enable compute.googleapis.com --project proj-1\` (SERVICE_DISABLED: off)`,
      'SERVICE_DISABLED',
      'compute.instances.insert',
    ]);
  });

  it('says whether a refusal is the provider’s (a missing resource, an unsupported call) or the offering’s', () => {
    const refusal = (err: unknown, ctx = LAUNCH) => {
      const translated = translateGceError(err, ctx);
      assert.ok(translated instanceof RefusedError, String(translated));
      return [translated.scope, translated.code, translated.subject];
    };
    assert.deepEqual(refusal(answered(5, 'no such template')), ['provider', 'NOT_FOUND', 'tpl-1']);
    assert.deepEqual(refusal(answered(5, 'gone', 'RESOURCE_NOT_FOUND'), DELETE), [
      'provider',
      'RESOURCE_NOT_FOUND',
      undefined,
    ]);
    assert.deepEqual(refusal(answered(6, 'exists')), ['offering', 'ALREADY_EXISTS', 'n2-standard-2']);
    assert.deepEqual(refusal(answered(10, 'conflict')), ['offering', 'ABORTED', 'n2-standard-2']);
    assert.deepEqual(refusal(answered(12, 'not here')), ['provider', 'UNIMPLEMENTED', 'tpl-1']);
    assert.deepEqual(refusal(answered(3, 'bad')), ['offering', 'INVALID_ARGUMENT', 'n2-standard-2']);
    assert.deepEqual(refusal(answered(99, 'new')), ['offering', 'gRPC 99', 'n2-standard-2']);
    const err = translateGceError(answered(3, 'bad field'), LAUNCH);
    assert.equal(err.message, `${LAUNCH.doing}: Compute Engine refused the request (bad field)`);
  });
});
