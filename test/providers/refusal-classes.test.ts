import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { providerStatuses, type ProvidersPort } from '../../src/api/provider-status.ts';
import type { BreakerView } from '../../src/autoscaler/controller.ts';
import type { TerminateIntent } from '../../src/core/intent.ts';
import { parseConfig } from '../../src/config/load.ts';
import {
  AuthError,
  CapacityError,
  ProviderError,
  QuotaError,
  RefusedError,
  ThrottledError,
  ValidationError,
  refusalOf,
} from '../../src/core/errors.ts';
import { translateEc2Error } from '../../src/providers/aws-ec2/ec2-errors.ts';
import { translateGceError } from '../../src/providers/gcp-compute/gce-errors.ts';

/** What the EC2 SDK throws for an error answer: its code as `name` and `Code`, and the HTTP status. */
function ec2Error(code: string, status: number): Error {
  return Object.assign(new Error(`${code} said`), { name: code, Code: code, $metadata: { httpStatusCode: status } });
}

const LAUNCH = {
  doing: 'launching 1 x c7i.large',
  action: 'RunInstances',
  region: 'us-east-1',
  offeringKey: 'aws-ec2:us-east-1/us-east-1a/c7i.large/on-demand',
  launch: { subnetId: 'subnet-0bad', template: 'lt-0bad', instanceType: 'c7i.large' },
};

describe('error classes at the adapter boundary', () => {
  const ec2Cases: Array<{ name: string; code: string; status: number; want: string; scope?: string; subject?: string }> = [
    { name: 'an unknown subnet refuses the provider', code: 'InvalidSubnetID.NotFound', status: 400, want: 'refused', scope: 'provider', subject: 'subnet-0bad' },
    { name: 'an unknown launch template refuses the provider', code: 'InvalidLaunchTemplateId.NotFound', status: 400, want: 'refused', scope: 'provider', subject: 'lt-0bad' },
    { name: 'a template name that does not exist refuses the provider', code: 'InvalidLaunchTemplateName.NotFoundException', status: 400, want: 'refused', scope: 'provider', subject: 'lt-0bad' },
    { name: 'an unsupported call refuses the provider', code: 'UnsupportedOperation', status: 400, want: 'refused', scope: 'provider' },
    { name: 'an instance type the region does not know refuses the offering', code: 'InvalidParameterValue', status: 400, want: 'refused', scope: 'offering', subject: 'c7i.large' },
    { name: 'bad credentials refuse the provider', code: 'AuthFailure', status: 401, want: 'refused', scope: 'provider' },
    { name: 'a missing permission refuses the provider, naming it', code: 'UnauthorizedOperation', status: 403, want: 'refused', scope: 'provider', subject: 'ec2:RunInstances' },
    { name: 'no capacity is a capacity error', code: 'InsufficientInstanceCapacity', status: 500, want: 'capacity' },
    { name: 'a vCPU limit is a quota error', code: 'VcpuLimitExceeded', status: 400, want: 'quota' },
    { name: 'throttling is retryable', code: 'RequestLimitExceeded', status: 503, want: 'retryable' },
    { name: 'a 5xx is retryable', code: 'InternalError', status: 500, want: 'retryable' },
  ];
  for (const c of ec2Cases) {
    it(`EC2: ${c.name}`, () => {
      const err = translateEc2Error(ec2Error(c.code, c.status), LAUNCH);
      assert.equal(classOf(err), c.want, err.message);
      const refusal = refusalOf(err);
      if (c.want !== 'refused') return assert.equal(refusal, undefined);
      assert.equal(refusal!.scope, c.scope);
      assert.equal(refusal!.code, c.code);
      assert.equal(refusal!.subject, c.subject);
    });
  }

  it('GCE: a 404 on a launch refuses the provider, a 400 the offering, a denial names the permission', () => {
    const ctx = {
      doing: 'launching',
      call: 'compute.instances.insert',
      permissions: ['compute.instances.create'],
      project: 'p',
      region: 'us-central1',
      launch: { template: 'projects/p/global/instanceTemplates/t', instanceType: 'e2-standard-2' },
    };
    const missing = refusalOf(translateGceError(Object.assign(new Error('not found'), { code: 5 }), ctx));
    assert.deepEqual([missing?.scope, missing?.code, missing?.subject], ['provider', 'NOT_FOUND', ctx.launch.template]);
    const invalid = refusalOf(translateGceError(Object.assign(new Error('bad type'), { code: 3 }), ctx));
    assert.deepEqual([invalid?.scope, invalid?.code, invalid?.subject], ['offering', 'INVALID_ARGUMENT', 'e2-standard-2']);
    const denied = refusalOf(
      translateGceError(
        Object.assign(new Error('denied'), {
          code: 7,
          reason: 'IAM_PERMISSION_DENIED',
          errorInfoMetadata: { permission: 'compute.instances.create' },
        }),
        ctx,
      ),
    );
    assert.deepEqual([denied?.scope, denied?.code, denied?.subject], ['provider', 'IAM_PERMISSION_DENIED', 'compute.instances.create']);
    assert.equal(refusalOf(translateGceError(Object.assign(new Error('busy'), { code: 14 }), ctx)), undefined);
  });

  it('takes any other non-retryable error as a refusal of the offering, and no retryable one', () => {
    assert.deepEqual(refusalOf(new ProviderError('odd')), { scope: 'offering', code: 'ProviderError', message: 'odd' });
    assert.equal(refusalOf(new ProviderError('later', { retryable: true })), undefined);
    assert.equal(refusalOf(new Error('aborted')), undefined);
    assert.equal(refusalOf(new ThrottledError('slow down')), undefined);
  });
});

function classOf(err: Error): string {
  if (err instanceof CapacityError) return 'capacity';
  if (err instanceof QuotaError) return 'quota';
  if (err instanceof AuthError || err instanceof RefusedError) return 'refused';
  if ((err as ProviderError).retryable) return 'retryable';
  return 'other';
}

describe('refusal backoff config', () => {
  it('defaults to 1 minute doubling to 30', () => {
    const config = parseConfig({ clusterId: 'a' });
    assert.equal(config.controller.refusalBackoffMs, 60_000);
    assert.equal(config.controller.refusalBackoffMaxMs, 1_800_000);
    assert.equal(parseConfig({ clusterId: 'a', controller: { passIntervalMs: 500 } }).controller.refusalBackoffMaxMs, 1_800_000);
  });

  const bad = [
    { name: 'a maximum below the first backoff', controller: { refusalBackoffMs: 120_000, refusalBackoffMaxMs: 60_000 }, field: 'controller.refusalBackoffMaxMs', text: /at least controller\.refusalBackoffMs/ },
    { name: 'a first backoff under a second', controller: { refusalBackoffMs: 10 }, field: 'controller.refusalBackoffMs', text: /1000/ },
    { name: 'a backoff that is not a number', controller: { refusalBackoffMs: 'soon' }, field: 'controller.refusalBackoffMs', text: /number/ },
  ];
  for (const c of bad) {
    it(`names the key of ${c.name}`, () => {
      assert.throws(
        () => parseConfig({ clusterId: 'a', controller: c.controller }),
        (err: unknown) => err instanceof ValidationError && err.field === c.field && c.text.test(err.message),
      );
    });
  }
});

describe('provider status', () => {
  const breaker = (over: Partial<BreakerView>): BreakerView => ({
    key: 'aws-ec2:a',
    scope: 'provider',
    providerId: 'aws-ec2:a',
    state: 'open',
    refusals: 1,
    openedAtMs: 0,
    backoffMs: 60_000,
    retryAtMs: 60_000,
    code: 'AuthFailure',
    subject: undefined,
    message: 'bad credentials',
    reason: 'aws-ec2:a refuses launches: AuthFailure; next try 00:01',
    ...over,
  });
  const port: ProvidersPort = {
    ids: () => ['aws-ec2:a', 'aws-ec2:b', 'gcp-compute:c'],
    breakers: () => [
      breaker({}),
      breaker({ key: 'aws-ec2:b/z/t/on-demand', scope: 'offering', providerId: 'aws-ec2:b', offeringKey: 'aws-ec2:b/z/t/on-demand' }),
    ],
    retry: () => ({ providerId: 'aws-ec2:a', closed: 1 }),
  };

  it('is refusing with a provider breaker, degraded with offering breakers, ok without', () => {
    const statuses = providerStatuses(port, true, []);
    assert.deepEqual(statuses.map((p) => [p.id, p.health, p.breakers.length]), [
      ['aws-ec2:a', 'refusing', 1],
      ['aws-ec2:b', 'degraded', 1],
      ['gcp-compute:c', 'ok', 0],
    ]);
    assert.deepEqual(statuses[0]!.breakers[0], {
      key: 'aws-ec2:a',
      scope: 'provider',
      state: 'open',
      code: 'AuthFailure',
      subject: null,
      refusals: 1,
      openedAtMs: 0,
      retryAtMs: 60_000,
      reason: 'aws-ec2:a refuses launches: AuthFailure; next try 00:01',
      error: 'bad credentials',
    });
  });

  it("is degraded while a termination keeps failing, and lists it with the cloud's error", () => {
    const terminate = (id: string, providerId: string, attempts: number, error: string): TerminateIntent => ({
      id,
      kind: 'terminate',
      providerId,
      instanceIds: [`i-${id}`],
      reason: 'idle',
      state: 'pending',
      createdAtMs: 5_000,
      updatedAtMs: 9_000,
      attempts,
      error,
    });
    const okPort: ProvidersPort = { ...port, breakers: () => [] };
    const intents = [
      terminate('t1', 'gcp-compute:c', 2, 'deleting i-t1: deletion protection is on'),
      terminate('t2', 'gcp-compute:c', 0, ''), // not tried yet: not failing
      terminate('t3', 'aws-ec2:b', 1, ''), // tried, no error recorded: not failing
    ];
    const statuses = providerStatuses(okPort, true, intents);
    assert.deepEqual(statuses.map((p) => [p.id, p.health, p.failingTerminations.length]), [
      ['aws-ec2:a', 'ok', 0],
      ['aws-ec2:b', 'ok', 0],
      ['gcp-compute:c', 'degraded', 1],
    ]);
    assert.deepEqual(statuses[2]!.failingTerminations, [
      {
        intentId: 't1',
        instanceIds: ['i-t1'],
        attempts: 2,
        error: 'deleting i-t1: deletion protection is on',
        sinceMs: 5_000,
      },
    ]);
    // A standby reads the same intents from the store: it shows them, with health unknown.
    assert.deepEqual(providerStatuses(okPort, false, intents)[2]!.failingTerminations.length, 1);
  });

  it('is unknown on a process that does not lead, and empty without providers', () => {
    assert.deepEqual(providerStatuses(port, false, []).map((p) => [p.health, p.breakers.length]), [
      ['unknown', 0],
      ['unknown', 0],
      ['unknown', 0],
    ]);
    assert.deepEqual(providerStatuses(undefined, true, []), []);
  });
});
