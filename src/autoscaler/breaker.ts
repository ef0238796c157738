import type { Refusal, RefusalScope } from '../core/errors.ts';

/**
 * The state machine of one launch breaker (pure: every transition takes the time and returns the next state).
 *
 * Closed (no record) lets every call through. A refusal opens it for `initialMs`. Once `retryAtMs` has come, the next
 * call is let through alone as a trial (`trying`); every other call is held back while it runs. The trial's refusal
 * opens it again for twice the last backoff, at most `maxMs`; a call the cloud accepted (a launch, a capacity or quota
 * answer: the request itself was valid) closes it; a call that ended without a verdict (throttled, 5xx, network) makes
 * it due again. Refusals of calls that were already in flight when it opened change nothing, so one bad config counts
 * once. An operator's retry closes it at once.
 */
export interface BreakerSettings {
  /** The first backoff after a refusal; default one minute. */
  readonly initialMs: number;
  /** The longest backoff, reached by doubling; default 30 minutes. */
  readonly maxMs: number;
}

export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = Object.freeze({ initialMs: 60_000, maxMs: 1_800_000 });

export const BreakerState = {
  /** Refusing calls until `retryAtMs`; then one trial may go. */
  open: 'open',
  /** One trial call is in flight; every other call waits for its verdict. */
  trying: 'trying',
} as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** An open breaker. A closed one has no record. */
export interface Breaker {
  /** The provider id for a provider breaker, the offering key for an offering breaker. */
  readonly key: string;
  readonly scope: RefusalScope;
  readonly providerId: string;
  /** The offering key, for an offering breaker. */
  readonly offeringKey?: string;
  readonly state: BreakerState;
  /** Refusals in a row, the one that opened it included. */
  readonly refusals: number;
  readonly openedAtMs: number;
  readonly backoffMs: number;
  readonly retryAtMs: number;
  /** The last refusal's code, subject and message. */
  readonly code: string | undefined;
  readonly subject: string | undefined;
  readonly message: string;
}

/** Where a breaker sits: its key, scope and provider, decided by the refusal's scope. */
export interface BreakerTarget {
  readonly providerId: string;
  readonly offeringKey: string;
}

/** The key of the breaker a refusal of `scope` opens for a call to `target`. */
export function breakerKey(scope: RefusalScope, target: BreakerTarget): string {
  return scope === 'provider' ? target.providerId : target.offeringKey;
}

/** A refusal of a call: opens a closed breaker, reopens a failed trial's for twice as long; else no change. */
export function refused(
  prev: Breaker | undefined,
  target: BreakerTarget,
  refusal: Refusal,
  nowMs: number,
  settings: BreakerSettings,
): Breaker {
  const facts = { code: refusal.code, subject: refusal.subject, message: refusal.message };
  if (prev === undefined) {
    return {
      key: breakerKey(refusal.scope, target),
      scope: refusal.scope,
      providerId: target.providerId,
      ...(refusal.scope === 'offering' ? { offeringKey: target.offeringKey } : {}),
      state: 'open',
      refusals: 1,
      openedAtMs: nowMs,
      backoffMs: settings.initialMs,
      retryAtMs: nowMs + settings.initialMs,
      ...facts,
    };
  }
  if (prev.state === 'open') return prev;
  const backoffMs = Math.min(settings.maxMs, prev.backoffMs * 2);
  return { ...prev, ...facts, state: 'open', refusals: prev.refusals + 1, backoffMs, retryAtMs: nowMs + backoffMs };
}

/**
 * Whether a call may go now: always through a closed breaker; through an open one whose time has come, as its one
 * trial (the breaker becomes `trying`); never while it is open and not due, or while a trial runs.
 */
export function admit(prev: Breaker | undefined, nowMs: number): { readonly go: boolean; readonly next: Breaker | undefined } {
  if (prev === undefined) return { go: true, next: undefined };
  if (prev.state === 'open' && nowMs >= prev.retryAtMs) return { go: true, next: { ...prev, state: 'trying' } };
  return { go: false, next: prev };
}

/** A call that ended without a verdict on the config (throttled, 5xx, no answer): a trial is due again at once. */
export function undecided(prev: Breaker | undefined, nowMs: number): Breaker | undefined {
  if (prev === undefined || prev.state !== 'trying') return prev;
  return { ...prev, state: 'open', retryAtMs: nowMs };
}

/** Whether a breaker holds calls back at `nowMs` (the planner skips what it covers). */
export function holding(breaker: Breaker, nowMs: number): boolean {
  return breaker.state === 'trying' || nowMs < breaker.retryAtMs;
}

/**
 * Why the launches a breaker holds wait, for people: `aws-ec2:us-east-1 refuses launches: InvalidSubnetID.NotFound
 * (subnet-0bad); next try 12:05` (UTC), or `... refuses launches of c7i.bogus in us-east-1a (on-demand): ...`.
 */
export function breakerReason(breaker: Breaker, nowMs: number): string {
  const what = breaker.offeringKey === undefined ? 'launches' : `launches of ${describeOffering(breaker.offeringKey)}`;
  const code = breaker.code ?? 'refused';
  const said = breaker.subject === undefined ? code : `${code} (${breaker.subject})`;
  const next = breaker.state === 'trying' ? 'trying again now' : `next try ${clockTime(Math.max(nowMs, breaker.retryAtMs))}`;
  return `${breaker.providerId} refuses ${what}: ${said}; ${next}`;
}

/** `HH:MM` in UTC, with seconds when they are not zero. */
export function clockTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(17, 19) === '00' ? iso.slice(11, 16) : iso.slice(11, 19);
}

/** `c7i.large in us-east-1a (spot)` from `provider/zone/type/lifecycle`. */
function describeOffering(offeringKey: string): string {
  const [, zone, type, lifecycle] = offeringKey.split('/');
  return `${type ?? offeringKey} in ${zone ?? '?'} (${lifecycle ?? '?'})`;
}
