/** The canonical status name of each HTTP status Google's APIs answer with (the JSON error body's `status`). */
const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** A `google.rpc.ErrorInfo` detail, as Google's APIs add to error answers. */
export interface ErrorInfo {
  readonly reason: string;
  readonly domain: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * The ErrorInfo Google's front end adds for each legacy `errors[].reason` it has one for: rate limits and denied
 * permissions carry one; Compute's own validation errors (notFound, alreadyExists, invalid) do not.
 */
const ERROR_INFO: Readonly<Record<string, (detail: Readonly<Record<string, string>>) => ErrorInfo>> = {
  // Compute's concurrent-operations limit answers the same 403 rateLimitExceeded with ErrorInfo reason
  // CONCURRENT_OPERATIONS_QUOTA_EXCEEDED (cloud.google.com/compute/operations-quota): `errorInfoReason` picks it.
  rateLimitExceeded: ({ errorInfoReason, ...d }) => ({
    reason: errorInfoReason ?? 'RATE_LIMIT_EXCEEDED',
    domain: errorInfoReason === undefined ? 'googleapis.com' : 'compute.googleapis.com',
    metadata: {
      service: 'compute.googleapis.com',
      quota_metric: d.quota_metric ?? 'compute.googleapis.com/default',
      ...d,
    },
  }),
  forbidden: (d) => ({ reason: 'IAM_PERMISSION_DENIED', domain: 'iam.googleapis.com', metadata: d }),
  authError: () => ({
    reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED',
    domain: 'googleapis.com',
    metadata: { service: 'compute.googleapis.com' },
  }),
  quotaExceeded: (d) => ({ reason: 'QUOTA_EXCEEDED', domain: 'compute.googleapis.com', metadata: d }),
};

/** An error answer of the Compute REST API: the emulator throws it and the server writes Google's JSON error body. */
export class GceFault extends Error {
  readonly status: number;
  /** The legacy `errors[].reason`: `rateLimitExceeded`, `forbidden`, `notFound`, `alreadyExists`... */
  readonly reason: string;
  readonly detail: Readonly<Record<string, string>>;

  constructor(status: number, reason: string, message: string, detail: Readonly<Record<string, string>> = {}) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.detail = detail;
  }

  /** `{ error: { code, message, status } }`: the status alone, no reason and no ErrorInfo (realism's `bareErrors`). */
  bareBody(): string {
    return JSON.stringify({
      error: {
        code: this.status,
        message: this.message,
        status: STATUS_NAMES[this.status] ?? (this.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT'),
      },
    });
  }

  /** `{ error: { code, message, errors: [{ message, domain, reason }], status, details } }`. */
  body(): string {
    const info = ERROR_INFO[this.reason]?.(this.detail);
    return JSON.stringify({
      error: {
        code: this.status,
        message: this.message,
        errors: [
          {
            message: this.message,
            domain: this.reason === 'rateLimitExceeded' ? 'usageLimits' : 'global',
            reason: this.reason,
          },
        ],
        status: STATUS_NAMES[this.status] ?? (this.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT'),
        ...(info ? { details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', ...info }] } : {}),
      },
    });
  }
}

export const notFound = (what: string): GceFault =>
  new GceFault(404, 'notFound', `The resource '${what}' was not found`);
export const invalid = (message: string): GceFault => new GceFault(400, 'invalid', message);
