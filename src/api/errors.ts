import { AccessError, ConflictError, NotFoundError, SpillwayError, ValidationError } from '../core/errors.ts';
import { TooManyFailuresError } from '../pool/builtin/registration-limits.ts';
import type { ErrorBody } from './types.ts';

export type ErrorCode = ErrorBody['error']['code'];

/**
 * A failure that belongs to HTTP itself rather than to the domain: wrong method, body too large, not JSON.
 * Route handlers throw domain errors; the server throws these.
 */
export class HttpError extends SpillwayError {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly code: ErrorCode;
  /** Extra response headers (`Allow` for a 405). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: ErrorCode, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** What the server answers for an error: status, body and extra headers. `internal` says the cause must be logged. */
export interface ErrorResponse {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  readonly internal: boolean;
}

const INTERNAL_MESSAGE = 'handling the request failed on the server; the server log has the details';

/**
 * Maps any thrown value to the answer the client gets. Domain errors keep their message (they are written for
 * people and carry no internals); anything else becomes a generic 500 so nothing internal leaks.
 */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (err instanceof HttpError) return answer(err.status, err.code, err.message, err.headers);
  if (err instanceof ValidationError) {
    return {
      status: 400,
      body: { error: { code: 'invalid_request', message: err.message, field: err.field } },
      headers: {},
      internal: false,
    };
  }
  if (err instanceof AccessError)
    return answer(err.status, err.status === 401 ? 'unauthorized' : 'forbidden', err.message);
  if (err instanceof NotFoundError) return answer(404, 'not_found', err.message);
  if (err instanceof TooManyFailuresError) {
    return answer(429, 'rate_limited', err.message, { 'retry-after': String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) });
  }
  if (err instanceof ConflictError) return answer(409, 'conflict', err.message);
  // A busy store or a passing fault: the same request may succeed in a moment.
  if (err instanceof SpillwayError && err.retryable) {
    return { ...answer(503, 'unavailable', 'busy for a moment; retry the request', { 'retry-after': '1' }), internal: true };
  }
  return { ...answer(500, 'internal', INTERNAL_MESSAGE), internal: true };
}

function answer(
  status: number,
  code: ErrorCode,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): ErrorResponse {
  return { status, body: { error: { code, message } }, headers, internal: false };
}
