import type { Offering } from '../core/offering.ts';
import type { TaskHeader } from '../core/task.ts';
import { eligible, offeringHost, type Host } from '../pool/builtin/eligibility.ts';

/** A class of tasks as `planner-groups.ts` makes them: its key decides eligibility (`classKey`). */
export interface EligibilityClass {
  readonly key: string;
  readonly representative: TaskHeader;
}

/** Dimensions of a resource vector: CPU, memory, GPUs, network, in RESOURCE_KEYS order. */
export const D = 4;

/** Tables kept: a pass plans over the allowed offerings and, after a limit, the ones still within it. */
const TABLES_KEPT = 4;
/** Class rows kept per table before they are dropped (classes are few; this only bounds a pathological stream). */
const ROWS_KEPT = 1_024;

/**
 * What the planner derives from a list of offerings alone, derived once per list instead of once per plan: their
 * capacities and prices as flat arrays, and which offerings each class of tasks may run on.
 *
 * A pass hands the planner a fresh array of the same allowed offerings (`allowedOfferings` copies its remembered
 * answer), thousands of them with the bundled catalogs, and most passes plan a task or two: deriving these per plan
 * was most of a small plan's cost. `of` finds the table of a list with the same offerings in the same order (the same
 * objects: offerings are immutable values, never changed in place), so every answer is the one a fresh derivation
 * gives. Tables and their arrays are shared: nothing may write into them.
 */
export class OfferingTable {
  readonly offerings: readonly Offering[];
  /** `cap[o * D + d]`: offering o's capacity in dimension d. */
  readonly cap: Float64Array;
  readonly price: Float64Array;
  #hosts: Host[] | undefined;
  /** Per class key (which decides eligibility: `classKey`), 1 where the class may run on offering o. */
  readonly #rows = new Map<string, Uint8Array>();

  private constructor(offerings: readonly Offering[]) {
    this.offerings = offerings.slice();
    const O = offerings.length;
    this.cap = new Float64Array(O * D);
    this.price = new Float64Array(O);
    for (let o = 0; o < O; o++) {
      const c = offerings[o]!.capacity;
      this.cap[o * D] = c.cpuMillis;
      this.cap[o * D + 1] = c.memoryMiB;
      this.cap[o * D + 2] = c.gpus;
      this.cap[o * D + 3] = c.netMbps;
      this.price[o] = offerings[o]!.pricePerHourMicros;
    }
  }

  /** The table of `offerings`: a remembered one when a recent list held the same offerings in the same order. */
  static of(offerings: readonly Offering[]): OfferingTable {
    for (let i = 0; i < recent.length; i++) {
      const table = recent[i]!;
      if (sameOfferings(table.offerings, offerings)) {
        if (i > 0) recent.unshift(...recent.splice(i, 1));
        return table;
      }
    }
    const table = new OfferingTable(offerings);
    recent.unshift(table);
    if (recent.length > TABLES_KEPT) recent.length = TABLES_KEPT;
    return table;
  }

  /** 1 at o when tasks of class `cls` may run on offering o (resources aside). Shared: do not write into it. */
  eligibility(cls: EligibilityClass): Uint8Array {
    let row = this.#rows.get(cls.key);
    if (row === undefined) {
      this.#hosts ??= this.offerings.map(offeringHost);
      const hosts = this.#hosts;
      row = new Uint8Array(hosts.length);
      for (let o = 0; o < hosts.length; o++) if (eligible(cls.representative, hosts[o]!)) row[o] = 1;
      if (this.#rows.size >= ROWS_KEPT) this.#rows.clear();
      this.#rows.set(cls.key, row);
    }
    return row;
  }
}

/** Recently used tables, most recent first. */
const recent: OfferingTable[] = [];

function sameOfferings(a: readonly Offering[], b: readonly Offering[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
