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

/** What a refusal names, for people: the cloud's code and the thing it refused (`subnet-0bad`, `ec2:RunInstances`). */
export interface RefusalFacts {
  /** The cloud's error code (`InvalidSubnetID.NotFound`, `AuthFailure`, `NOT_FOUND`). */
  readonly code?: string;
  /** The configured thing the call named that the cloud refused, when the adapter knows it. */
  readonly subject?: string;
}

/**
 * Credentials are missing, wrong or lack a permission. The message tells the operator what to fix. A refusal of the
 * whole provider: no retry helps until the operator acts, so launches back off (a provider breaker).
 */
export class AuthError extends SpillwayError {
  override readonly name = 'AuthError';
  readonly code: string | undefined;
  readonly subject: string | undefined;

  constructor(message: string, opts: { cause?: unknown } & RefusalFacts = {}) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
    this.subject = opts.subject;
  }
}

/** Any other provider failure; `retryable` says whether a retry may help (5xx, network) or not. */
export class ProviderError extends SpillwayError {
  override readonly name: string = 'ProviderError';
}

/** How far a refusal reaches: the one offering the call was for, or every launch of the provider. */
export const RefusalScope = {
  /** The instance type (or its zone or market) is refused: other offerings of the provider may launch. */
  offering: 'offering',
  /** What every launch shares is refused (credentials, subnet, launch or instance template, image). */
  provider: 'provider',
} as const;
export type RefusalScope = (typeof RefusalScope)[keyof typeof RefusalScope];

/**
 * The cloud refused the call for a reason no retry of the same call can fix: configuration (an unknown subnet,
 * template or instance type), an unsupported call. Never retryable. The adapter decides `scope` at its boundary; the
 * provisioner opens a breaker of that scope, so the call is tried again only after a backoff or an operator's retry.
 */
export class RefusedError extends ProviderError {
  override readonly name = 'RefusedError';
  readonly scope: RefusalScope;
  readonly code: string | undefined;
  readonly subject: string | undefined;

  constructor(message: string, opts: { scope: RefusalScope; cause?: unknown } & RefusalFacts) {
    super(message, { retryable: false, cause: opts.cause });
    this.scope = opts.scope;
    this.code = opts.code;
    this.subject = opts.subject;
  }
}

/** A refusal as the provisioner acts on it. */
export interface Refusal extends RefusalFacts {
  readonly scope: RefusalScope;
  readonly message: string;
}

/**
 * The refusal an error is, or undefined for a retryable, capacity or quota error. AuthError refuses the whole
 * provider; RefusedError says its scope; any other non-retryable error is taken as a refusal of the offering, so no
 * unclassified error is retried every pass.
 */
export function refusalOf(err: unknown): Refusal | undefined {
  const message = errorMessage(err);
  if (err instanceof AuthError) return { scope: 'provider', code: err.code ?? 'AuthError', subject: err.subject, message };
  if (err instanceof RefusedError) return { scope: err.scope, code: err.code, subject: err.subject, message };
  if (err instanceof CapacityError || err instanceof QuotaError) return undefined;
  if (err instanceof SpillwayError && !err.retryable) return { scope: 'offering', code: err.name, message };
  return undefined;
}

/** This controller no longer holds the store's lease and must stop acting. */
export class LeaseLostError extends SpillwayError {
  override readonly name = 'LeaseLostError';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
