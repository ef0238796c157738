/** The base of every error Spillway raises. `retryable` tells the caller whether the same call may succeed later. */
export class SpillwayError extends Error {
  readonly retryable: boolean;
  override readonly name: string = 'SpillwayError';

  constructor(message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.retryable = opts.retryable ?? false;
  }
}

/** Input that breaks a rule. `field` names where it entered, as a dotted path (`tasks.0.resources.cpu`). */
export class ValidationError extends SpillwayError {
  override readonly name = 'ValidationError';
  readonly field: string;

  constructor(field: string, problem: string) {
    super(field ? `${field}: ${problem}` : problem);
    this.field = field;
  }
}

export class NotFoundError extends SpillwayError {
  override readonly name = 'NotFoundError';
}

/** The request conflicts with the current state (a cancelled task cannot run, a used credential cannot register). */
export class ConflictError extends SpillwayError {
  override readonly name = 'ConflictError';
}

/** The caller is not who it says (401) or may not do this (403). */
export class AccessError extends SpillwayError {
  override readonly name = 'AccessError';
  readonly status: 401 | 403;

  constructor(status: 401 | 403, message: string) {
    super(message);
    this.status = status;
  }
}

/** The provider has no capacity for this offering now. The planner marks it unavailable and fails over. */
export class CapacityError extends SpillwayError {
  override readonly name = 'CapacityError';
  readonly offeringKey: string;

  constructor(message: string, offeringKey: string, opts: { cause?: unknown } = {}) {
    super(message, { retryable: true, cause: opts.cause });
    this.offeringKey = offeringKey;
  }
}

/** An account quota or limit (instances, vCPUs) is reached. Failover to another provider or region may help. */
export class QuotaError extends SpillwayError {
  override readonly name = 'QuotaError';
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { retryable: true, cause: opts.cause });
  }
}

/** The provider throttled the call. Back off on the clock and retry. */
export class ThrottledError extends SpillwayError {
  override readonly name = 'ThrottledError';
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { retryable: true, cause: opts.cause });
  }
}

/** Credentials are missing, wrong or lack a permission. The message tells the operator what to fix. */
export class AuthError extends SpillwayError {
  override readonly name = 'AuthError';
}

/** Any other provider failure; `retryable` says whether a retry may help (5xx, network) or not. */
export class ProviderError extends SpillwayError {
  override readonly name = 'ProviderError';
}

/** This controller no longer holds the store's lease and must stop acting. */
export class LeaseLostError extends SpillwayError {
  override readonly name = 'LeaseLostError';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
