import type { Offering } from '../core/offering.ts';
import type { OwnerShare } from '../core/owner.ts';

/** Launch `count` instances of one offering. Written as an intent before the cloud call. */
export interface LaunchCommand {
  readonly kind: 'launch';
  readonly offering: Offering;
  readonly count: number;
  readonly owners: readonly OwnerShare[];
  /** The tasks this launch is for, as planned (placement decides where they finally run). */
  readonly taskIds: readonly string[];
  readonly reason: string;
}

/** Drain a cloud agent and terminate its instance (or terminate an instance no agent knows). */
export interface TerminateCommand {
  readonly kind: 'terminate';
  /** Null for an unknown instance found by reconcile. */
  readonly agentId: string | null;
  readonly providerId: string;
  readonly instanceId: string;
  readonly reason: string;
}

/** A task the planner leaves waiting, and why (shown to people through the task's reason). */
export interface Waiting {
  readonly taskId: string;
  readonly reason: string;
}
