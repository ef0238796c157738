import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import type { Packing, PackingInput } from '../../src/autoscaler/planner-packing-types.ts';
import type { Offering } from '../../src/core/offering.ts';
import { group, off } from './packing-fixtures.ts';

/**
 * For the packer's search tests (planner-packing-search.test.ts): a seeded generator of small packing inputs, the least
 * cost of any plan for an input by exhaustive search, and a check that a plan places every task once within its
 * instances' capacities and eligibility. All three are independent of the packer.
 */

/** xorshift32 over [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * The packing input numbered `seed`: 2 to 5 offerings (`few`), or 49 to 64 (`many`: more than the packer's shortlist
 * of 48, none dominated by another, the bigger the cheaper per CPU, and tasks half as big), sorted cheapest first, over
 * CPU and memory and, for some seeds, GPUs, network and two classes of tasks with a random eligibility; 1 to 4 distinct
 * groups of 1 to 6 tasks (1 to 8 for `many`), some of them taking no CPU or no memory, some of a higher priority.
 */
export function generated(seed: number, mode: 'few' | 'many'): PackingInput {
  const r = random(seed * 2654435761 + 7);
  const O = mode === 'many' ? 49 + Math.floor(r() * 16) : 2 + Math.floor(r() * 4);
  const useGpu = r() < 0.3;
  const useNet = r() < 0.2;
  const classes = r() < 0.3 ? 2 : 1;
  const zero = r() < 0.2;
  const offerings: Offering[] = [];
  for (let i = 0; i < O; i++) {
    if (mode === 'many') {
      // Each dearer than the one before and with more CPU, so none is dominated, and cheaper per CPU the bigger it is,
      // so the best offering for a plan is rarely among the cheapest (and the shortlist is needed).
      const cpu = 1000 + 400 * i + Math.floor(r() * 300);
      const memory = 1024 * (2 + Math.floor(r() * 30));
      const price = 200 + 12 * i + Math.floor(r() * 10);
      const gpus = useGpu ? 1 + Math.floor(r() * 3) : 0;
      const net = useNet ? 500 * (1 + Math.floor(r() * 4)) : 0;
      offerings.push(off(`o${i}`, cpu, memory, price, gpus, net));
      continue;
    }
    const cpu = 1000 * (1 + Math.floor(r() * 8));
    const memory = 1024 * (1 + Math.floor(r() * 16));
    const price = 10 * (1 + Math.floor(r() * 100));
    const gpus = useGpu ? Math.floor(r() * 3) : 0;
    const net = useNet ? 500 * Math.floor(r() * 4) : 0;
    offerings.push(off(`o${i}`, cpu, memory, price, gpus, net));
  }
  // Stable: equal prices keep their generated order.
  offerings.sort((a, b) => a.pricePerHourMicros - b.pricePerHourMicros);
  const G = 1 + Math.floor(r() * 4);
  const groups: TaskGroup[] = [];
  const counts: number[] = [];
  const seen = new Set<string>();
  for (let g = 0; g < G; g++) {
    const unit = mode === 'many' ? 0.5 : 1;
    const cpu = zero && r() < 0.3 ? 0 : unit * 500 * (1 + Math.floor(r() * 8));
    const memory = zero && r() < 0.3 ? 0 : unit * 512 * (1 + Math.floor(r() * 16));
    const gpus = useGpu && r() < 0.5 ? 1 + Math.floor(r() * 2) : 0;
    const netMbps = useNet && r() < 0.5 ? 250 * (1 + Math.floor(r() * 4)) : 0;
    const classIndex = Math.floor(r() * classes);
    const priority = r() < 0.2 ? 1 : 0;
    const made = group(cpu, memory, { gpus, netMbps, classIndex, priority });
    if (seen.has(made.key)) continue;
    seen.add(made.key);
    groups.push(made);
    counts.push(1 + Math.floor(r() * (mode === 'many' ? 8 : 6)));
  }
  const eligibility = new Uint8Array(classes * O);
  for (let i = 0; i < eligibility.length; i++) eligibility[i] = classes === 1 || r() < 0.7 ? 1 : 0;
  return { groups, counts, offerings, eligibility, classCount: classes };
}

const vector = (c: { cpuMillis: number; memoryMiB: number; gpus: number; netMbps: number }): number[] => [
  c.cpuMillis,
  c.memoryMiB,
  c.gpus,
  c.netMbps,
];

/**
 * The least cost of any plan for the input's tasks that fit some offering they may run on, by exhaustive search:
 * offerings that another as cheap (listed first at equal prices), at least as big in every dimension and eligible for
 * every class it is are left out; then each task, largest first, goes into each open instance it fits and may run on,
 * or into a new instance of each offering it fits and may run on, and a branch is cut once it costs as much as the
 * best plan found. Throws past `maxNodes` branches.
 */
export function leastCost(input: PackingInput, maxNodes = 2_000_000): number {
  const { offerings, eligibility, classCount } = input;
  const O = offerings.length;
  const caps = offerings.map((o) => vector(o.capacity));
  const price = offerings.map((o) => o.pricePerHourMicros);
  const may = (c: number, o: number): boolean => eligibility[c * O + o] === 1;
  const kept: number[] = [];
  for (let b = 0; b < O; b++) {
    const dominated = offerings.some((_, a) => {
      if (a === b || price[a]! > price[b]! || (price[a] === price[b] && a > b)) return false;
      if (!caps[a]!.every((x, d) => x >= caps[b]![d]!)) return false;
      for (let c = 0; c < classCount; c++) if (may(c, b) && !may(c, a)) return false;
      return true;
    });
    if (!dominated) kept.push(b);
  }
  const fits = (t: readonly number[], free: readonly number[]): boolean => t.every((x, d) => x <= free[d]!);
  const tasks: { v: number[]; c: number }[] = [];
  input.groups.forEach((g, i) => {
    for (let k = 0; k < input.counts[i]!; k++) tasks.push({ v: vector(g.size), c: g.classIndex });
  });
  const weight = (v: readonly number[]): number => v[2]! * 1e7 + v[0]! + v[1]! + v[3]!;
  const sorted = tasks
    .filter((t) => kept.some((o) => may(t.c, o) && fits(t.v, caps[o]!)))
    .sort((a, b) => weight(b.v) - weight(a.v));
  const bins: { o: number; free: number[] }[] = [];
  let best = Infinity;
  let nodes = 0;
  const search = (i: number, cost: number): void => {
    if (cost >= best) return;
    if (++nodes > maxNodes) throw new Error(`leastCost: more than ${maxNodes} branches`);
    if (i === sorted.length) {
      best = cost;
      return;
    }
    const t = sorted[i]!;
    const tried = new Set<string>();
    for (const bin of bins) {
      const key = `${bin.o}:${bin.free.join(',')}`;
      if (!may(t.c, bin.o) || !fits(t.v, bin.free) || tried.has(key)) continue;
      tried.add(key);
      t.v.forEach((x, d) => (bin.free[d]! -= x));
      search(i + 1, cost);
      t.v.forEach((x, d) => (bin.free[d]! += x));
    }
    for (const o of kept) {
      if (!may(t.c, o) || !fits(t.v, caps[o]!)) continue;
      bins.push({ o, free: caps[o]!.map((x, d) => x - t.v[d]!) });
      search(i + 1, cost + price[o]!);
      bins.pop();
    }
  };
  search(0, 0);
  return best === Infinity ? 0 : best;
}

/**
 * Why the packing is not a plan of the input ('' when it is): every task of a group not reported unfit placed once,
 * each instance within its offering's capacity in every dimension and running only classes that may run on it, and
 * the cost the sum of its instances' prices. A group is unfit exactly when no offering it may run on fits one task.
 */
export function planError(input: PackingInput, packing: Packing): string {
  const { offerings, eligibility, groups, counts } = input;
  const O = offerings.length;
  const placed = counts.length === 0 ? [] : Array.from(counts, () => 0);
  let cost = 0;
  for (const p of packing.patterns) {
    const offering = offerings[p.offering];
    if (offering === undefined || !(p.times >= 1)) return `pattern on ${p.offering} x ${p.times}`;
    const used = [0, 0, 0, 0];
    for (const item of p.items) {
      const g = groups[item.group]!;
      if (eligibility[g.classIndex * O + p.offering] !== 1) return `group ${item.group} may not run on ${offering.instanceType}`;
      placed[item.group]! += item.count * p.times;
      vector(g.size).forEach((x, d) => (used[d]! += x * item.count));
    }
    const cap = vector(offering.capacity);
    if (!used.every((u, d) => u <= cap[d]!)) return `${offering.instanceType} over capacity: ${used.join('/')}`;
    cost += offering.pricePerHourMicros * p.times;
  }
  for (let g = 0; g < groups.length; g++) {
    const fitsSome = offerings.some((o, i) => eligibility[groups[g]!.classIndex * O + i] === 1 && vector(groups[g]!.size).every((x, d) => x <= vector(o.capacity)[d]!));
    const unfit = counts[g]! > 0 && !fitsSome;
    if (packing.unfit.includes(g) !== unfit) return `group ${g} ${unfit ? 'is' : 'is not'} unfit`;
    if (placed[g] !== (unfit ? 0 : counts[g])) return `group ${g}: ${placed[g]} placed of ${counts[g]}`;
  }
  if (cost !== packing.costPerHourMicros) return `cost ${packing.costPerHourMicros}, instances ${cost}`;
  return '';
}
