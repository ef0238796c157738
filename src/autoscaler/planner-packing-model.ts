import { packingSize, toVector, type TaskGroup } from './planner-groups.ts';
import { D, OfferingTable } from './planner-offering-table.ts';
import type { PackingInput, Pattern } from './planner-packing-types.ts';

// The packer reaches the table through its model (the planner's files import each other one way).
export { D, OfferingTable };

/**
 * The order groups are taken in, within each priority: `size` is the planning order (GPUs weigh most, then CPUs,
 * memory, bandwidth); `gpu` puts GPU tasks first and then the most CPU; `memory` the most memory first.
 */
export type Order = 'size' | 'gpu' | 'memory';

/** Flat typed arrays over groups and offerings, and what is derived from them once. */
export class PackingModel {
  readonly G: number;
  readonly O: number;
  readonly size: Float64Array;
  readonly cap: Float64Array;
  readonly price: Float64Array;
  /** 1 when a task of group g may run on offering o and fits it alone. */
  readonly fit: Uint8Array;
  /** Per group: the undominated offerings it fits, cheapest first. */
  readonly fitKept: Int32Array[];
  readonly weight: Float64Array;
  readonly groupClass: Int32Array;
  readonly classCount: number;
  readonly eligibility: Uint8Array;
  /** Groups looked at while filling candidate instances, over every run: bounds how many variants run. */
  work = 0;
  readonly #groups: readonly TaskGroup[];
  readonly #orders = new Map<Order, number[]>();
  /** Per order, per offering (filled when first asked). */
  readonly #fitLists = new Map<Order, (Int32Array | undefined)[]>();
  readonly #scratch: [Float64Array, Float64Array] = [new Float64Array(0), new Float64Array(0)];
  readonly #homeRatios = new Map<Order, (Float64Array | undefined)[]>();

  constructor(input: PackingInput) {
    this.#groups = input.groups;
    const G = (this.G = input.groups.length);
    const O = (this.O = input.offerings.length);
    this.classCount = input.classCount;
    this.eligibility = input.eligibility;
    this.size = new Float64Array(G * D);
    // Shared with every plan over the same offerings (never written here).
    const table = OfferingTable.of(input.offerings);
    this.cap = table.cap;
    this.price = table.price;
    this.groupClass = new Int32Array(G);
    input.groups.forEach((g, i) => {
      this.size.set(toVector(g.size), i * D);
      this.groupClass[i] = g.classIndex;
    });
    this.fit = new Uint8Array(G * O);
    const { size, cap, fit } = this;
    const eligibility = input.eligibility;
    // Offerings some group with tasks to pack fits (the others are never kept).
    const fitsLive = new Uint8Array(O);
    for (let g = 0; g < G; g++) {
      const row = this.groupClass[g]! * O;
      const live = input.counts[g]! > 0 ? 1 : 0;
      // Inlined: this is G x O (hundreds of shapes by thousands of offerings).
      const s0 = size[g * D]!;
      const s1 = size[g * D + 1]!;
      const s2 = size[g * D + 2]!;
      const s3 = size[g * D + 3]!;
      for (let o = 0; o < O; o++) {
        if (
          eligibility[row + o] &&
          s0 <= cap[o * D]! &&
          s1 <= cap[o * D + 1]! &&
          s2 <= cap[o * D + 2]! &&
          s3 <= cap[o * D + 3]!
        ) {
          fit[g * O + o] = 1;
          fitsLive[o]! |= live;
        }
      }
    }
    const kept = Int32Array.from(this.#undominated(input.counts, fitsLive));
    this.fitKept = [];
    this.weight = new Float64Array(G);
    let minPrice = Infinity;
    for (let o = 0; o < O; o++) minPrice = Math.min(minPrice, this.price[o]!);
    const scratch = new Int32Array(kept.length);
    for (let g = 0; g < G; g++) {
      let n = 0;
      for (let k = 0; k < kept.length; k++) if (fit[g * O + kept[k]!]) scratch[n++] = kept[k]!;
      this.fitKept.push(scratch.slice(0, n));
      let w = Infinity;
      for (const o of this.fitKept[g]!) w = Math.min(w, this.price[o]! * this.dominantShare(g, o));
      // A task that takes nothing still counts a little, so bins of only such tasks have a finite score.
      this.weight[g] = Math.max(w === Infinity ? 0 : w, minPrice * 1e-9);
    }
  }

  /** How many tasks of group g fit in the free capacity `f` (Infinity for a task that takes nothing). */
  copies(g: number, f: Float64Array | readonly number[], fo = 0): number {
    let n = Infinity;
    for (let d = 0; d < D; d++) {
      const s = this.size[g * D + d]!;
      if (s > 0) n = Math.min(n, Math.floor(f[fo + d]! / s));
    }
    return n;
  }

  /** The groups that fit offering `o`, in the given order. */
  fitList(order: Order, o: number): Int32Array {
    let lists = this.#fitLists.get(order);
    if (!lists) this.#fitLists.set(order, (lists = new Array<Int32Array | undefined>(this.O)));
    let list = lists[o];
    if (!list) {
      const groups = this.order(order);
      const found = new Int32Array(groups.length);
      let n = 0;
      for (const g of groups) if (this.fit[g * this.O + o]) found[n++] = g;
      lists[o] = list = found.slice(0, n);
    }
    return list;
  }

  /** Parallel to fitList: each group's cost on `o` (price times dominant share) over its value. */
  homeRatio(order: Order, o: number): Float64Array {
    let ratios = this.#homeRatios.get(order);
    if (!ratios) this.#homeRatios.set(order, (ratios = new Array<Float64Array | undefined>(this.O)));
    let ratio = ratios[o];
    if (!ratio) {
      const list = this.fitList(order, o);
      ratio = new Float64Array(list.length);
      list.forEach((g, k) => (ratio![k] = (this.price[o]! * this.dominantShare(g, o)) / this.weight[g]!));
      ratios[o] = ratio;
    }
    return ratio;
  }

  /** A reusable buffer (`which` 0 or 1) of at least `length` numbers, for per-step scores. */
  scratch(which: 0 | 1, length: number): Float64Array {
    let buffer = this.#scratch[which];
    if (buffer.length < length) this.#scratch[which] = buffer = new Float64Array(length);
    return buffer.subarray(0, length);
  }

  /** Group indexes in the given order, priority first. */
  order(order: Order): readonly number[] {
    let result = this.#orders.get(order);
    if (!result) {
      const gs = this.#groups;
      const key = (g: TaskGroup): number[] =>
        order === 'gpu'
          ? [g.size.gpus, g.size.cpuMillis, g.size.memoryMiB]
          : order === 'memory'
            ? [g.size.memoryMiB, g.size.cpuMillis, g.size.gpus]
            : [packingSize(g.size), 0, 0];
      const keys = gs.map(key);
      // Ties go to the group with fewer offerings to choose from: others can fill around it more easily than it can.
      const choices = gs.map((_, g) => this.fitKept[g]!.length);
      result = gs.map((_, i) => i);
      result.sort((a, b) => {
        const ka = keys[a]!;
        const kb = keys[b]!;
        return (
          gs[b]!.priority - gs[a]!.priority ||
          kb[0]! - ka[0]! ||
          kb[1]! - ka[1]! ||
          kb[2]! - ka[2]! ||
          choices[a]! - choices[b]! ||
          a - b
        );
      });
      this.#orders.set(order, result);
    }
    return result;
  }

  cost(patterns: readonly Pattern[]): number {
    let total = 0;
    for (const p of patterns) total += this.price[p.offering]! * p.times;
    return total;
  }

  value(p: Pattern): number {
    let v = 0;
    for (const item of p.items) v += this.weight[item.group]! * item.count;
    return v;
  }

  dominantShare(g: number, o: number): number {
    let share = 0;
    for (let d = 0; d < D; d++) {
      const s = this.size[g * D + d]!;
      if (s > 0) share = Math.max(share, s / this.cap[o * D + d]!);
    }
    return share;
  }

  /**
   * Offerings no other is at least as good as: as cheap, at least as big in every dimension some task needs, and
   * eligible for every class the other is. Any instance of a dropped offering could be one of its dominator instead,
   * for no more. Offerings come cheapest first, so a dominator is always seen before what it dominates, except at
   * equal prices, where an earlier one may survive a bigger later one (harmless: it is only not pruned).
   */
  #undominated(counts: ArrayLike<number>, fitsSome: Uint8Array): number[] {
    const { G, O, size, cap, price, eligibility } = this;
    const live: number[] = [];
    for (let g = 0; g < G; g++) if (counts[g]! > 0) live.push(g);
    const demanded = [0, 1, 2, 3].filter((d) => live.some((g) => size[g * D + d]! > 0));
    const classes = [...new Set(live.map((g) => this.groupClass[g]!))];
    // Each offering's live classes as bits (W words): a candidate b is dominated by a kept a only if every class b
    // may run may run on a.
    const W = Math.ceil(classes.length / 32);
    const bits = new Uint32Array(O * W);
    classes.forEach((c, k) => {
      for (let o = 0; o < O; o++) if (eligibility[c * O + o]) bits[o * W + (k >>> 5)]! |= 1 << (k & 31);
    });
    // A dimension no live task needs is never compared: its capacity counts as -Infinity for every offering.
    const need = new Float64Array(O * D).fill(-Infinity);
    for (const d of demanded) for (let o = 0; o < O; o++) need[o * D + d] = cap[o * D + d]!;
    const kept: number[] = [];
    for (let b = 0; b < O; b++) {
      if (!fitsSome[b]) continue;
      const pb = price[b]!;
      const b0 = need[b * D]!;
      const b1 = need[b * D + 1]!;
      const b2 = need[b * D + 2]!;
      const b3 = need[b * D + 3]!;
      let dominated = false;
      for (let i = 0; i < kept.length && !dominated; i++) {
        const a = kept[i]!;
        if (
          price[a]! > pb ||
          need[a * D]! < b0 ||
          need[a * D + 1]! < b1 ||
          need[a * D + 2]! < b2 ||
          need[a * D + 3]! < b3
        ) {
          continue;
        }
        let covers = true;
        for (let w = 0; w < W && covers; w++) if ((bits[b * W + w]! & ~bits[a * W + w]!) !== 0) covers = false;
        dominated = covers;
      }
      if (!dominated) kept.push(b);
    }
    return kept;
  }
}
