import {
  AuthError,
  CapacityError,
  ProviderError,
  QuotaError,
  RefusedError,
  ThrottledError,
  errorMessage,
  type SpillwayError,
} from '../../core/errors.ts';

/** What an EC2 error code means to Spillway, and so which error the adapter throws. */
export const Ec2ErrorMeaning = {
  /** No room for this offering now: CapacityError, the planner fails over to the next cheapest offering. */
  capacity: 'capacity',
  /** An account limit: QuotaError, fail over (another provider or region may have room). */
  quota: 'quota',
  /** RequestLimitExceeded: ThrottledError, the provisioner backs off on its clock. */
  throttled: 'throttled',
  /** Credentials or permissions: AuthError, the operator must act; no retry helps. */
  auth: 'auth',
  /** The same ClientToken with other parameters: a non-retryable ProviderError. */
  mismatch: 'mismatch',
  /** EC2's side failed: a retryable ProviderError. */
  transient: 'transient',
  /** Instance ids EC2 does not know (any more): terminate treats them as gone. */
  notFound: 'notFound',
} as const;
export type Ec2ErrorMeaning = (typeof Ec2ErrorMeaning)[keyof typeof Ec2ErrorMeaning];

/** The translation table. Codes not listed: 5xx answers are transient, other answers non-retryable. */
export const EC2_ERROR_MEANINGS: Readonly<Record<string, Ec2ErrorMeaning>> = Object.freeze({
  InsufficientInstanceCapacity: 'capacity',
  InsufficientCapacity: 'capacity',
  InsufficientHostCapacity: 'capacity',
  InsufficientReservedInstanceCapacity: 'capacity',
  /** The type is not offered in this zone (or not with this market): another offering may be. */
  Unsupported: 'capacity',
  SpotMaxPriceTooLow: 'capacity',
  InstanceLimitExceeded: 'quota',
  VcpuLimitExceeded: 'quota',
  MaxSpotInstanceCountExceeded: 'quota',
  RequestLimitExceeded: 'throttled',
  Throttling: 'throttled',
  AuthFailure: 'auth',
  UnauthorizedOperation: 'auth',
  OptInRequired: 'auth',
  Blocked: 'auth',
  PendingVerification: 'auth',
  IdempotentParameterMismatch: 'mismatch',
  InternalError: 'transient',
  InternalFailure: 'transient',
  ServiceUnavailable: 'transient',
  Unavailable: 'transient',
  'InvalidInstanceID.NotFound': 'notFound',
  'InvalidInstanceID.Malformed': 'notFound',
});

/** Network failures that never reached EC2's answer: the call may or may not have taken effect. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** What the SDK tells of a failed call. */
export interface Ec2ErrorFacts {
  /** EC2's error code (`InsufficientInstanceCapacity`), or undefined when no EC2 answer arrived. */
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly message: string;
  readonly requestId: string | undefined;
}

export function ec2ErrorFacts(err: unknown): Ec2ErrorFacts {
  const e = (err ?? {}) as {
    name?: string;
    Code?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? (status !== undefined ? e.name : undefined);
  return { code, status, message: errorMessage(err), requestId: e.$metadata?.requestId };
}

/** The meaning of a failed call, from its code, its HTTP status, or (no answer at all) as a network failure. */
export function ec2ErrorMeaning(err: unknown): Ec2ErrorMeaning | 'client' {
  const { code, status } = ec2ErrorFacts(err);
  const known = code === undefined ? undefined : EC2_ERROR_MEANINGS[code];
  if (known) return known;
  if (status !== undefined) return status >= 500 ? 'transient' : 'client';
  return 'transient';
}

export interface TranslateContext {
  /** What was being done, for the message: `launching 2 x m7i.large (spot) in us-east-1a`. */
  readonly doing: string;
  /** The EC2 action, for permission advice: `RunInstances`. */
  readonly action: string;
  readonly region: string;
  /** The offering a capacity error makes unavailable. */
  readonly offeringKey?: string;
  /** What a launch named, so a refusal can say which configured thing EC2 refused. */
  readonly launch?: { readonly subnetId: string; readonly template: string; readonly instanceType: string };
}

/**
 * Refusals of what every launch of the provider shares (the subnet, the launch template, its image, security groups
 * or key pair, an unsupported call): they open the provider's breaker. Any other refusal of a launch is the
 * offering's (its instance type, zone or market).
 */
const PROVIDER_WIDE_PREFIXES = [
  'InvalidSubnet',
  'InvalidLaunchTemplate',
  'InvalidAMIID',
  'InvalidGroup',
  'InvalidSecurityGroup',
  'InvalidKeyPair',
  'InvalidVpcID',
  'UnsupportedOperation',
  'MissingParameter',
] as const;

/** The configured thing a refusal names: the subnet, the template, or the instance type. */
function refusedSubject(code: string | undefined, ctx: TranslateContext): string | undefined {
  if (!ctx.launch || code === undefined) return undefined;
  if (code.startsWith('InvalidSubnet')) return ctx.launch.subnetId;
  if (code.startsWith('InvalidLaunchTemplate') || code.startsWith('InvalidAMIID')) return ctx.launch.template;
  if (PROVIDER_WIDE_PREFIXES.some((p) => code.startsWith(p))) return undefined;
  return ctx.launch.instanceType;
}

/**
 * Translates whatever the SDK threw into Spillway's errors (the table above). SDK error types never leave the adapter;
 * the original is kept as `cause`.
 */
export function translateEc2Error(err: unknown, ctx: TranslateContext): SpillwayError {
  const facts = ec2ErrorFacts(err);
  const meaning = ec2ErrorMeaning(err);
  const said = facts.code === undefined ? facts.message : `${facts.code}: ${facts.message}`;
  const where = facts.requestId ? ` (request ${facts.requestId})` : '';
  const opts = { cause: err };
  switch (meaning) {
    case 'capacity':
      return new CapacityError(
        `${ctx.doing}: EC2 has no capacity for it now (${said})${where}`,
        ctx.offeringKey ?? '',
        opts,
      );
    case 'quota':
      return new QuotaError(
        `${ctx.doing}: an account limit of ${ctx.region} is reached (${said}); raise the quota in Service Quotas ` +
          `or lower the policy's limits`,
        opts,
      );
    case 'throttled':
      return new ThrottledError(`${ctx.doing}: EC2 throttled the call (${said})${where}`, opts);
    case 'auth':
      return new AuthError(`${ctx.doing}: ${authAdvice(facts.code, ctx)} (${said})${where}`, {
        ...opts,
        code: facts.code,
        subject: facts.code === 'UnauthorizedOperation' ? `ec2:${ctx.action}` : undefined,
      });
    case 'mismatch':
      return new ProviderError(
        `${ctx.doing}: EC2 already ran this ClientToken with other parameters (${said}); the intent's launch ` +
          `parameters changed since its first attempt (config edited?), so it cannot be retried as it is`,
        opts,
      );
    case 'transient':
      return new ProviderError(
        facts.code === undefined
          ? `${ctx.doing}: no answer from EC2 (${networkDetail(err)}); the call may have taken effect`
          : `${ctx.doing}: EC2 failed (${said})${where}`,
        { retryable: true, cause: err },
      );
    case 'notFound':
    case 'client': {
      const code = facts.code ?? `HTTP ${facts.status ?? '?'}`;
      const wide = PROVIDER_WIDE_PREFIXES.some((p) => code.startsWith(p));
      return new RefusedError(`${ctx.doing}: EC2 refused the request (${said})${where}`, {
        ...opts,
        scope: wide ? 'provider' : 'offering',
        code,
        subject: refusedSubject(facts.code, ctx),
      });
    }
  }
}

/** What the operator should fix for each auth failure. */
function authAdvice(code: string | undefined, ctx: TranslateContext): string {
  switch (code) {
    case 'UnauthorizedOperation':
      return (
        `the controller's AWS identity may not call ec2:${ctx.action}: allow it in the identity's IAM policy ` +
        `(RunInstances also needs ec2:CreateTags on instances and volumes, ec2:RunInstances on the launch template, ` +
        `subnet and image, and iam:PassRole when the template names an instance profile); ` +
        '`aws sts decode-authorization-message` reads the encoded reason'
      );
    case 'OptInRequired':
    case 'PendingVerification':
    case 'Blocked':
      return `the AWS account cannot use EC2 in ${ctx.region} yet: enable the region or finish the account's verification`;
    default:
      return (
        `AWS did not accept the controller's credentials for ${ctx.region}: give it valid ones through the default ` +
        'chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance or pod role), check they ' +
        "have not expired, and that this machine's clock is right"
      );
  }
}

function networkDetail(err: unknown): string {
  const e = (err ?? {}) as { code?: string; name?: string };
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return `${e.code}: ${errorMessage(err)}`;
  if (e.name === 'TimeoutError') return `timed out: ${errorMessage(err)}`;
  return errorMessage(err);
}
