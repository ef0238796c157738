/**
 * The packer's vocabulary: what it is asked to pack and the plan it returns. Its own file so the packer
 * (`planner-packing.ts`), its model (`planner-packing-model.ts`) and the one-type baseline (`planner-one-type.ts`) all
 * depend on it and never on each other in a circle: packing -> model, packing -> one-type, each -> these types.
 */
import type { Offering } from '../core/offering.ts';
import type { TaskGroup } from './planner-groups.ts';

/** What to pack: groups of identical tasks, and the offerings allowed, cheapest first. */
export interface PackingInput {
  readonly groups: readonly TaskGroup[];
  /** How many tasks of each group to pack (at most its task count). */
  readonly counts: ArrayLike<number>;
  readonly offerings: readonly Offering[];
  /** `eligibility[c * offerings.length + o]` is 1 when class `c` may run on offering `o`. */
  readonly eligibility: Uint8Array;
  readonly classCount: number;
}

/** One instance's contents, launched `times` times. */
export interface Pattern {
  /** Index into PackingInput.offerings. */
  readonly offering: number;
  /** How many tasks of each group one instance holds, by group index ascending. */
  readonly items: readonly PatternItem[];
  readonly times: number;
}

export interface PatternItem {
  readonly group: number;
  readonly count: number;
}

export interface Packing {
  /** In planning order: the first pattern serves the first (highest priority, largest) group. */
  readonly patterns: readonly Pattern[];
  /** Groups (with a count above zero) that no offering fits or may run. */
  readonly unfit: readonly number[];
  readonly costPerHourMicros: number;
  /**
   * The effort spent finding it: each fill of a candidate instance adds how far it moved along the offering's list of
   * groups (planner-packing.ts `fill`), summed over every variant tried. A remembered plan reports the work it took.
   */
  readonly work: number;
}
