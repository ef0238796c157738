import type { Clock } from '../core/clock.ts';
import type { Refusal } from '../core/errors.ts';
import { offeringKey, type Offering } from '../core/offering.ts';
import type { Logger } from '../log/logger.ts';
import {
  admit,
  breakerKey,
  breakerReason,
  DEFAULT_BREAKER_SETTINGS,
  holding,
  refused,
  undecided,
  type Breaker,
  type BreakerSettings,
  type BreakerTarget,
} from './breaker.ts';

/** How a launch call ended, as the breakers see it. */
export type LaunchVerdict =
  /** The cloud accepted the request (launched, or answered capacity or quota): its config is good. */
  | { readonly kind: 'accepted' }
  | { readonly kind: 'refused'; readonly refusal: Refusal }
  /** Throttled, 5xx, no answer: nothing learnt. */
  | { readonly kind: 'undecided' };

/** What `gate` answers: go (the call may be a breaker's trial), or wait with the reason and until when at least. */
export type Gate = { readonly go: true } | { readonly go: false; readonly reason: string; readonly untilMs: number };

/** How long a call held back by a running trial waits before it asks again. */
const TRIAL_WAIT_MS = 1_000;

/**
 * The launch breakers of every provider (breaker.ts's state machine, keyed by provider id for provider-wide refusals
 * and by offering key for one offering's), on the injected clock. Every change of state is logged once. In memory:
 * a restart closes them all, and the first refused call opens them again.
 */
export class LaunchBreakers {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #settings: BreakerSettings;
  readonly #breakers = new Map<string, Breaker>();
  /** The call each trying breaker let through as its trial, for calls named by `gate` and `record`. */
  readonly #trials = new Map<string, string>();

  constructor(opts: { clock: Clock; logger: Logger; settings?: Partial<BreakerSettings> }) {
    this.#clock = opts.clock;
    this.#log = opts.logger;
    this.#settings = { ...DEFAULT_BREAKER_SETTINGS, ...opts.settings };
  }

  /**
   * Asked right before a launch call: whether it may go. The provider's breaker is asked first, then the offering's;
   * a due breaker lets this call through as its one trial. `callId` names the call (its intent id), so only the
   * trial's own verdict decides its breaker: a call that was already in flight when the breaker opened, ending while
   * the trial runs, neither lets a second trial through nor doubles the backoff.
   */
  gate(target: BreakerTarget, callId?: string): Gate {
    const nowMs = this.#clock.now();
    const keys = [target.providerId, target.offeringKey];
    for (const key of keys) {
      const breaker = this.#breakers.get(key);
      if (breaker && holding(breaker, nowMs)) {
        const untilMs = breaker.state === 'trying' ? nowMs + TRIAL_WAIT_MS : breaker.retryAtMs;
        return { go: false, reason: breakerReason(breaker, nowMs), untilMs };
      }
    }
    for (const key of keys) {
      const prev = this.#breakers.get(key);
      const { next } = admit(prev, nowMs);
      if (next && next !== prev) {
        this.#breakers.set(key, next);
        if (callId !== undefined) this.#trials.set(key, callId);
        this.#log.info('trying a launch through an open breaker', this.#fields(next, nowMs));
      }
    }
    return { go: true };
  }

  /** Told how a launch call ended; `callId` as given to `gate`. */
  record(target: BreakerTarget, verdict: LaunchVerdict, callId?: string): void {
    const nowMs = this.#clock.now();
    const keys = [target.providerId, target.offeringKey];
    if (verdict.kind === 'accepted') {
      for (const key of keys) this.#close(key, 'the provider accepted a launch');
      return;
    }
    if (verdict.kind === 'refused') {
      const key = breakerKey(verdict.refusal.scope, target);
      const prev = this.#breakers.get(key);
      const next = this.#otherCall(key, callId) ? prev! : refused(prev, target, verdict.refusal, nowMs, this.#settings);
      this.#breakers.set(key, next);
      if (next !== prev) this.#trials.delete(key);
      if (prev === undefined) this.#log.warn('opened launch breaker', this.#fields(next, nowMs));
      else if (prev !== next) this.#log.warn('launch breaker stays open', this.#fields(next, nowMs));
    }
    // A trial this verdict did not decide is due again.
    for (const key of keys) {
      const prev = this.#breakers.get(key);
      const next = this.#otherCall(key, callId) ? prev : undecided(prev, nowMs);
      if (next && next !== prev) {
        this.#breakers.set(key, next);
        this.#trials.delete(key);
        this.#log.info('launch breaker trial undecided', this.#fields(next, nowMs));
      }
    }
  }

  /**
   * Offerings an open breaker holds back now, with the reason their tasks wait: the planner skips them. A breaker
   * whose time has come holds nothing, so the next plan may try again.
   */
  blocked(offerings: readonly Offering[]): Map<string, string> {
    const nowMs = this.#clock.now();
    const blocked = new Map<string, string>();
    if (this.#breakers.size === 0) return blocked;
    for (const offering of offerings) {
      const key = offeringKey(offering);
      for (const breaker of [this.#breakers.get(offering.providerId), this.#breakers.get(key)]) {
        if (breaker && holding(breaker, nowMs)) {
          blocked.set(key, breakerReason(breaker, nowMs));
          break;
        }
      }
    }
    return blocked;
  }

  /** Every open breaker, by key. */
  list(): Breaker[] {
    return [...this.#breakers.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The reason a breaker gives now (for status). */
  reason(breaker: Breaker): string {
    return breakerReason(breaker, this.#clock.now());
  }

  /** Closes every breaker of a provider (an operator fixed the config); returns how many were open. */
  reset(providerId: string, why: string): number {
    let closed = 0;
    for (const breaker of this.list()) {
      if (breaker.providerId !== providerId) continue;
      this.#close(breaker.key, why);
      closed++;
    }
    return closed;
  }

  /** Whether the breaker at `key` is trying another call than `callId` (an unnamed call is taken as the trial). */
  #otherCall(key: string, callId: string | undefined): boolean {
    const trial = this.#trials.get(key);
    return callId !== undefined && trial !== undefined && trial !== callId && this.#breakers.get(key)?.state === 'trying';
  }

  #close(key: string, why: string): void {
    const breaker = this.#breakers.get(key);
    this.#trials.delete(key);
    if (!breaker) return;
    this.#breakers.delete(key);
    this.#log.info('closed launch breaker', { breaker: key, providerId: breaker.providerId, reason: why });
  }

  #fields(breaker: Breaker, nowMs: number): Record<string, unknown> {
    return {
      breaker: breaker.key,
      providerId: breaker.providerId,
      scope: breaker.scope,
      state: breaker.state,
      refusals: breaker.refusals,
      backoffMs: breaker.backoffMs,
      retryAt: new Date(breaker.retryAtMs).toISOString(),
      code: breaker.code,
      subject: breaker.subject,
      reason: breakerReason(breaker, nowMs),
      error: breaker.message,
    };
  }
}
