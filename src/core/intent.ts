import type { Offering } from './offering.ts';
import type { OwnerShare } from './owner.ts';

export const IntentState = {
  /** Written; the cloud call may or may not have happened. Re-executing it is safe (idempotency key). */
  pending: 'pending',
  /** The provider confirmed the call (instances launched, or terminated). */
  done: 'done',
  /** The provider refused (capacity, quota, auth); nothing was launched. */
  failed: 'failed',
} as const;
export type IntentState = (typeof IntentState)[keyof typeof IntentState];

/** A launch decision, written before the cloud call. Its id is the cloud's idempotency key. */
export interface LaunchIntent {
  readonly id: string;
  readonly kind: 'launch';
  readonly providerId: string;
  readonly offering: Offering;
  readonly count: number;
  readonly owners: readonly OwnerShare[];
  readonly reason: string;
  readonly state: IntentState;
  /** Instance ids the provider reported for this intent (at launch or found by reconcile). */
  readonly instanceIds: readonly string[];
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly attempts: number;
  readonly error: string;
  /**
   * The boot script (user data, startup script) rendered when the intent was first sent; every retry sends exactly
   * these bytes. Undefined until the first send.
   */
  readonly bootScript?: string | undefined;
}

/** A terminate decision, written before the cloud call. */
export interface TerminateIntent {
  readonly id: string;
  readonly kind: 'terminate';
  readonly providerId: string;
  readonly instanceIds: readonly string[];
  readonly reason: string;
  readonly state: IntentState;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly attempts: number;
  readonly error: string;
}

export type Intent = LaunchIntent | TerminateIntent;
