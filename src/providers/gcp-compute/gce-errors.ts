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
import type { GceOperation } from './gce-api.ts';

/** What a Compute Engine error means to Spillway, and so which error the adapter throws. */
export const GceErrorMeaning = {
  /** No room for this offering in the zone now (a stockout): CapacityError, fail over. */
  capacity: 'capacity',
  /** A project or region quota (CPUS, INSTANCES, PREEMPTIBLE_CPUS...): QuotaError, fail over. */
  quota: 'quota',
  /** A rate quota (403 rateLimitExceeded) or 429: ThrottledError, back off on the clock. */
  throttled: 'throttled',
  /** Credentials or a missing permission: AuthError, the operator must act. */
  auth: 'auth',
  /** The named resource is not there (404): delete treats the instance as gone. */
  notFound: 'notFound',
  /** A resource of that name exists (409): insert looks the intent's instances up by label. */
  alreadyExists: 'alreadyExists',
  /** Compute Engine's side failed, or no answer came: a retryable ProviderError. */
  transient: 'transient',
} as const;
export type GceErrorMeaning = (typeof GceErrorMeaning)[keyof typeof GceErrorMeaning];

/** gRPC status codes, which the REST transport derives from the HTTP status (403 -> 7, 429 -> 8, 503 -> 14...). */
const GRPC = {
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * Codes of a finished operation's `error.errors[].code`, and `google.rpc.ErrorInfo` reasons of an HTTP error answer.
 * The Node client keeps an error answer's status and ErrorInfo but drops its legacy `errors[]` list, so the HTTP side
 * is read from those two. Never from message text.
 */
export const GCE_ERROR_CODES: Readonly<Record<string, GceErrorMeaning>> = Object.freeze({
  ZONE_RESOURCE_POOL_EXHAUSTED: 'capacity',
  ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS: 'capacity',
  QUOTA_EXCEEDED: 'quota',
  RATE_LIMIT_EXCEEDED: 'throttled',
  rateLimitExceeded: 'throttled',
  userRateLimitExceeded: 'throttled',
  // 403s that are rate limits, not denials: the concurrent-operations limit (ErrorInfo reason beside the legacy
  // rateLimitExceeded) and too frequent operations on one source resource (an image, a disk).
  CONCURRENT_OPERATIONS_QUOTA_EXCEEDED: 'throttled',
  RESOURCE_OPERATION_RATE_EXCEEDED: 'throttled',
  IAM_PERMISSION_DENIED: 'auth',
  ACCESS_TOKEN_EXPIRED: 'auth',
  ACCESS_TOKEN_TYPE_UNSUPPORTED: 'auth',
  CREDENTIALS_MISSING: 'auth',
  SERVICE_DISABLED: 'auth',
  RESOURCE_NOT_FOUND: 'notFound',
  RESOURCE_ALREADY_EXISTS: 'alreadyExists',
  INTERNAL_ERROR: 'transient',
  SERVICE_UNAVAILABLE: 'transient',
});

/** A zone operation that finished with errors: thrown by the adapter, translated like an HTTP error. */
export class GceOperationFailed extends Error {
  readonly operation: GceOperation;
  constructor(operation: GceOperation) {
    const errors = operation.error?.errors ?? [];
    super(errors.map((e) => `${e.code ?? 'UNKNOWN'}: ${e.message ?? ''}`).join('; ') || 'the operation failed');
    this.name = 'GceOperationFailed';
    this.operation = operation;
  }
}

/** What the SDK (or a failed operation) tells of a failed call. */
export interface GceErrorFacts {
  /** An operation error code or an ErrorInfo reason; undefined without either. */
  readonly code: string | undefined;
  /** The gRPC status of an HTTP error answer; undefined for operations and network failures. */
  readonly grpcCode: number | undefined;
  /** The HTTP status of a failed operation. */
  readonly httpStatus: number | undefined;
  /** The IAM permission a denial names (ErrorInfo metadata), if it names one. */
  readonly permission: string | undefined;
  readonly message: string;
}

export function gceErrorFacts(err: unknown): GceErrorFacts {
  if (err instanceof GceOperationFailed) {
    const errors = err.operation.error?.errors ?? [];
    const known = errors.find((e) => e.code && GCE_ERROR_CODES[e.code]) ?? errors[0];
    return {
      code: known?.code ?? undefined,
      grpcCode: undefined,
      httpStatus: err.operation.httpErrorStatusCode ?? undefined,
      permission: undefined,
      message: err.message,
    };
  }
  // An abort or a request deadline (a DOMException) means no answer came: its numeric `code` is a legacy DOM code
  // (TimeoutError is 23, AbortError 20), not a gRPC status, so it must not be read as one.
  if (err instanceof DOMException) {
    return { code: undefined, grpcCode: undefined, httpStatus: undefined, permission: undefined, message: err.message };
  }
  const e = (err ?? {}) as { code?: unknown; reason?: unknown; errorInfoMetadata?: Record<string, string> | null };
  return {
    code: typeof e.reason === 'string' && e.reason !== '' ? e.reason : undefined,
    grpcCode: typeof e.code === 'number' ? e.code : undefined,
    httpStatus: undefined,
    permission: e.errorInfoMetadata?.permission,
    message: errorMessage(err),
  };
}

/** The meaning of a failed call: its code or reason first, then its status; no status at all is a network failure. */
export function gceErrorMeaning(err: unknown): GceErrorMeaning | 'client' {
  const facts = gceErrorFacts(err);
  const known = facts.code === undefined ? undefined : GCE_ERROR_CODES[facts.code];
  if (known) return known;
  if (facts.httpStatus !== undefined) {
    if (facts.httpStatus === 429) return 'throttled';
    // 501 is UNIMPLEMENTED's status: an unsupported call, which no retry makes work.
    if (facts.httpStatus === 501) return 'client';
    return facts.httpStatus >= 500 ? 'transient' : 'client';
  }
  switch (facts.grpcCode) {
    case undefined:
      return 'transient';
    case GRPC.RESOURCE_EXHAUSTED:
      return 'throttled';
    case GRPC.PERMISSION_DENIED:
    case GRPC.UNAUTHENTICATED:
      return 'auth';
    case GRPC.NOT_FOUND:
      return 'notFound';
    case GRPC.ALREADY_EXISTS:
    case GRPC.ABORTED:
      return 'alreadyExists';
    case GRPC.UNKNOWN:
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.INTERNAL:
    case GRPC.UNAVAILABLE:
      return 'transient';
    default:
      return 'client';
  }
}

export interface GceTranslateContext {
  /** What was being done: `launching 2 x n2-standard-2 (spot) in us-central1-a for intent ...`. */
  readonly doing: string;
  /** The Compute method, for permission advice: `compute.instances.insert`. */
  readonly call: string;
  /** The permissions that method needs (GCE_API_CALLS). */
  readonly permissions: readonly string[];
  readonly project: string;
  readonly region: string;
  readonly offeringKey?: string;
  /** What a launch named, so a refusal can say which configured thing Compute Engine refused. */
  readonly launch?: { readonly template: string; readonly instanceType: string };
}

/** gRPC status names, for a refusal that carries no reason. */
const GRPC_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries({ ...GRPC, INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9, UNIMPLEMENTED: 12 }).map(([k, v]) => [v, k]),
);

/** An unsupported call: like a missing resource, it refuses every launch of the provider. */
const GRPC_UNIMPLEMENTED = 12;

/** The code a refusal is shown with: its reason, else its HTTP or gRPC status. */
function refusalCode(facts: GceErrorFacts): string | undefined {
  if (facts.code !== undefined) return facts.code;
  if (facts.httpStatus !== undefined) return `HTTP ${facts.httpStatus}`;
  return facts.grpcCode === undefined ? undefined : (GRPC_NAMES[facts.grpcCode] ?? `gRPC ${facts.grpcCode}`);
}

/** Translates what the SDK threw (or a failed operation) into Spillway's errors; the original stays as `cause`. */
export function translateGceError(err: unknown, ctx: GceTranslateContext): SpillwayError {
  const facts = gceErrorFacts(err);
  const meaning = gceErrorMeaning(err);
  const said = facts.code === undefined ? facts.message : `${facts.code}: ${facts.message}`;
  const opts = { cause: err };
  switch (meaning) {
    case 'capacity':
      return new CapacityError(
        `${ctx.doing}: Compute Engine has no capacity for it now (${said})`,
        ctx.offeringKey ?? '',
        opts,
      );
    case 'quota':
      return new QuotaError(
        `${ctx.doing}: a quota of project ${ctx.project} in ${ctx.region} is reached (${said}); raise it on the ` +
          "console's Quotas page or lower the policy's limits",
        opts,
      );
    case 'throttled':
      return new ThrottledError(`${ctx.doing}: Compute Engine throttled the call (${said})`, opts);
    case 'auth':
      return new AuthError(`${ctx.doing}: ${authAdvice(facts, ctx)} (${said})`, {
        ...opts,
        code: refusalCode(facts),
        subject: facts.permission ?? (facts.grpcCode === GRPC.UNAUTHENTICATED ? undefined : ctx.call),
      });
    case 'transient':
      return new ProviderError(
        facts.grpcCode === undefined && facts.httpStatus === undefined && facts.code === undefined
          ? `${ctx.doing}: no answer from Compute Engine (${facts.message}); the call may have taken effect`
          : `${ctx.doing}: Compute Engine failed (${said})`,
        { retryable: true, cause: err },
      );
    case 'notFound':
    case 'alreadyExists':
    case 'client': {
      // A launch names its machine type in the zone and, through the template, everything every launch shares
      // (template, network, subnetwork, image): a missing resource is one of those; any other refusal is the type's.
      const wide = meaning === 'notFound' || facts.grpcCode === GRPC_UNIMPLEMENTED || facts.httpStatus === 501;
      return new RefusedError(`${ctx.doing}: Compute Engine refused the request (${said})`, {
        ...opts,
        scope: wide ? 'provider' : 'offering',
        code: refusalCode(facts),
        subject: ctx.launch === undefined ? undefined : wide ? ctx.launch.template : ctx.launch.instanceType,
      });
    }
  }
}

/** What the operator should fix. */
function authAdvice(facts: GceErrorFacts, ctx: GceTranslateContext): string {
  if (
    facts.grpcCode === GRPC.UNAUTHENTICATED ||
    facts.code?.startsWith('ACCESS_TOKEN') ||
    facts.code === 'CREDENTIALS_MISSING'
  ) {
    return (
      "Google did not accept the controller's credentials: give it Application Default Credentials " +
      '(GOOGLE_APPLICATION_CREDENTIALS naming a key file, `gcloud auth application-default login`, or an attached ' +
      "service account or workload identity) and check that this machine's clock is right"
    );
  }
  if (facts.code === 'SERVICE_DISABLED') {
    return `the Compute Engine API is not enabled in project ${ctx.project}: \`gcloud services enable compute.googleapis.com --project ${ctx.project}\``;
  }
  const missing = facts.permission === undefined ? ctx.permissions.join(', ') : facts.permission;
  return (
    `the controller's service account may not call ${ctx.call} in project ${ctx.project}: grant it ` +
    `${facts.permission === undefined ? 'these permissions' : 'the permission'} ${missing} ` +
    '(infra/ grants exactly the list in providers/gcp-compute/api-calls.ts)'
  );
}
