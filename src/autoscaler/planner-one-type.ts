import { RESOURCE_KEYS, type Resources } from '../core/resources.ts';
import type { Pattern, PackingInput } from './planner-packing-types.ts';
import { runToEnd, type Steps } from './planner-slices.ts';

/** Above this many tasks the one-type check is skipped: it costs tasks x offerings, and the packer's own plans win. */
export const ONE_TYPE_MAX_TASKS = 2_000;

/**
 * The plan an operator with one node type would get: every task on instances of a single offering, first fit in
 * decreasing order of CPU, then memory, GPUs and network. Tried for every offering that may run and hold every group
 * with a count; returns the cheapest such plan (patterns in planning order, by their first group) and its cost, or
 * undefined when no single offering holds them all or there are more than ONE_TYPE_MAX_TASKS tasks. The planner keeps
 * it when it is cheaper than its own packing, so a plan never costs more than the one-type baseline.
 */
export function oneTypePacking(
  input: PackingInput,
  counts: ArrayLike<number>,
): { patterns: Pattern[]; costPerHourMicros: number } | undefined {
  return runToEnd(oneTypeSteps(input, counts));
}

/** Offerings tried between two slice ends of `oneTypeSteps`. */
const OFFERINGS_PER_SLICE = 32;

/** `oneTypePacking` as steps (planner-slices.ts): a slice ends every OFFERINGS_PER_SLICE offerings. */
export function* oneTypeSteps(
  input: PackingInput,
  counts: ArrayLike<number>,
): Steps<{ patterns: Pattern[]; costPerHourMicros: number } | undefined> {
  const groups = input.groups.map((g, index) => ({ index, size: g.size, count: counts[index] ?? 0, classIndex: g.classIndex }));
  const wanted = groups.filter((g) => g.count > 0);
  const total = wanted.reduce((n, g) => n + g.count, 0);
  if (wanted.length === 0 || total > ONE_TYPE_MAX_TASKS) return undefined;
  wanted.sort((a, b) => compareDecreasing(a.size, b.size) || a.index - b.index);
  const O = input.offerings.length;
  let best: { patterns: Pattern[]; costPerHourMicros: number } | undefined;
  for (let o = 0; o < O; o++) {
    if (o > 0 && o % OFFERINGS_PER_SLICE === 0) yield;
    const offering = input.offerings[o]!;
    // At least one instance: an offering as dear as the best plan cannot beat it (the bound below, checked first).
    if (best !== undefined && offering.pricePerHourMicros >= best.costPerHourMicros) continue;
    if (!wanted.every((g) => input.eligibility[g.classIndex * O + o] === 1 && fitsIn(g.size, offering.capacity))) continue;
    const price = offering.pricePerHourMicros;
    // No plan of this offering can beat the best so far: it needs at least `binsAtLeast` instances. Skipped without
    // building its bins (a small offering for a thousand tasks is a thousand bins), which changes no result.
    if (best !== undefined && binsAtLeast(wanted, offering.capacity) * price >= best.costPerHourMicros) continue;
    const bins: { free: Record<string, number>; items: Map<number, number> }[] = [];
    let beaten = false;
    for (const g of wanted) {
      if (beaten) break;
      let left = g.count;
      for (const bin of bins) {
        if (left === 0) break;
        const n = Math.min(left, unitsThatFit(g.size, bin.free));
        if (n === 0) continue;
        take(bin, g.index, g.size, n);
        left -= n;
      }
      while (left > 0) {
        const bin = { free: { ...offering.capacity } as Record<string, number>, items: new Map<number, number>() };
        const n = Math.min(left, unitsThatFit(g.size, bin.free));
        take(bin, g.index, g.size, n);
        bins.push(bin);
        left -= n;
        // Bins are only ever added: once as dear as the best, this offering cannot win.
        if (best !== undefined && bins.length * price >= best.costPerHourMicros) {
          beaten = true;
          break;
        }
      }
    }
    if (beaten) continue;
    const cost = bins.length * price;
    if (best !== undefined && cost >= best.costPerHourMicros) continue;
    const patterns = bins
      .map((bin) => ({
        offering: o,
        items: [...bin.items].map(([group, count]) => ({ group, count })).sort((a, b) => a.group - b.group),
        times: 1,
      }))
      .sort((a, b) => a.items[0]!.group - b.items[0]!.group);
    best = { patterns, costPerHourMicros: cost };
  }
  return best;
}

/**
 * A lower bound on the instances of `capacity` any packing of the groups takes: in each dimension, the total asked
 * over what one instance holds, rounded up. Floating division of integers rounds to nearest, so the bound never
 * exceeds the true ceiling.
 */
function binsAtLeast(groups: readonly { size: Resources; count: number }[], capacity: Resources): number {
  let n = 1;
  for (const k of RESOURCE_KEYS) {
    if (capacity[k] <= 0) continue;
    let total = 0;
    for (const g of groups) total += g.size[k] * g.count;
    n = Math.max(n, Math.ceil(total / capacity[k]));
  }
  return n;
}

function compareDecreasing(a: Resources, b: Resources): number {
  for (const k of RESOURCE_KEYS) if (a[k] !== b[k]) return b[k] - a[k];
  return 0;
}

function fitsIn(size: Resources, capacity: Resources): boolean {
  return RESOURCE_KEYS.every((k) => size[k] <= capacity[k]);
}

/** How many tasks of `size` fit in `free` (one at least when the size is all zero and it fits). */
function unitsThatFit(size: Resources, free: Record<string, number>): number {
  let n = Infinity;
  for (const k of RESOURCE_KEYS) {
    if (size[k] > free[k]!) return 0;
    if (size[k] > 0) n = Math.min(n, Math.floor(free[k]! / size[k]));
  }
  return n;
}

function take(bin: { free: Record<string, number>; items: Map<number, number> }, group: number, size: Resources, n: number): void {
  for (const k of RESOURCE_KEYS) bin.free[k] = bin.free[k]! - size[k] * n;
  bin.items.set(group, (bin.items.get(group) ?? 0) + n);
}
