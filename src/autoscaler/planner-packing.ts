import { oneTypeSteps } from './planner-one-type.ts';
import { D, OfferingTable, PackingModel, type Order } from './planner-packing-model.ts';
import type { Packing, PackingInput, Pattern, PatternItem } from './planner-packing-types.ts';
import { runToEnd, type Steps } from './planner-slices.ts';

/** Candidate offerings scored in full for each new instance: the best by each quick estimate, and the cheapest. */
const SHORTLIST_EACH = 16;
const SHORTLIST_ALL = 48;
/** Bins filled below this share of their price in task value are re-packed together at the end. */
const TAIL_EFFICIENCY = 0.97;

type Score = 'value' | 'count';

/**
 * One run of the greedy: the group order, how instances are scored, and how dear a home a filler task may get
 * compared with its value (Infinity: any).
 */
interface Variant {
  readonly order: Order;
  readonly score: Score;
  readonly mixLimit: number;
}

/** The variants tried, most often best first (measured on the plan-quality benchmark's workloads). */
const VARIANTS: readonly Variant[] = [
  { order: 'gpu', score: 'value', mixLimit: Infinity },
  { order: 'size', score: 'value', mixLimit: Infinity },
  { order: 'gpu', score: 'value', mixLimit: 2 },
  { order: 'size', score: 'value', mixLimit: 2 },
  { order: 'size', score: 'count', mixLimit: Infinity },
  { order: 'memory', score: 'value', mixLimit: 2 },
  { order: 'memory', score: 'value', mixLimit: Infinity },
];

/**
 * How much work (Packing.work) the packer may spend. `work`: once this much is spent it tries no further variant;
 * enough for every variant on hundreds of distinct task shapes, and a bound on the time of huge plans. `smallPlan`:
 * below this much so far, a variant's under-filled tail is re-packed with every variant, not only its own.
 */
export interface PackingBudget {
  readonly work: number;
  readonly smallPlan: number;
}

export const PACKING_BUDGET: PackingBudget = { work: 6_000_000, smallPlan: 2_000_000 };

/**
 * Packs groups of tasks into instances at the least cost this heuristic finds (pure, deterministic).
 *
 * Each task has a value: the cheapest price of its dominant share of any offering it may run on. One run of the
 * greedy is first-fit-decreasing over groups: for the first group with tasks left (the head), each candidate offering
 * that fits it is filled with as many head tasks as fit, then with the following groups' tasks, and the candidate
 * with the lowest price per packed value (or per packed task) wins; the same contents repeat while enough tasks are
 * left. Then each distinct instance shrinks to the cheapest offering that still holds its tasks, and the under-filled
 * single instances are re-packed together when that costs less. Several runs (VARIANTS: group orders, scores, how
 * dear a home a filler may get) are tried, within the budget's work, and the cheapest plan is kept.
 *
 * Work is over groups of identical tasks, not tasks, and over offerings no other is at least as big, cheap and
 * eligible as, so a plan for thousands of identical tasks costs about as much as for one.
 */
export function pack(input: PackingInput, budget: PackingBudget = PACKING_BUDGET): Packing {
  return runToEnd(packSteps(input, budget));
}

/**
 * `pack` as steps (planner-slices.ts): a slice ends after the model is built, after each new instance the greedy
 * chooses, between variants and between the offerings of the one-type check, so no slice does more than one instance's
 * choice over the shortlist.
 */
export function* packSteps(input: PackingInput, budget: PackingBudget = PACKING_BUDGET): Steps<Packing> {
  // Remembered plans are the default budget's.
  const memo = budget === PACKING_BUDGET ? rememberedPacking(input) : NOT_REMEMBERED;
  if (memo.packing !== undefined) return memo.packing;
  const packing = yield* packAnew(input, budget);
  memo.remember(packing);
  return packing;
}

function* packAnew(input: PackingInput, budget: PackingBudget): Steps<Packing> {
  const model = new PackingModel(input);
  yield;
  const counts = Int32Array.from(input.counts);
  const unfit: number[] = [];
  // Stryker disable next-line EqualityOperator: g = G reads counts[G], undefined, and undefined > 0 is false
  for (let g = 0; g < model.G; g++) {
    if (counts[g]! > 0 && model.fitKept[g]!.length === 0) {
      unfit.push(g);
      counts[g] = 0;
    }
  }
  // Stryker disable next-line ArrayDeclaration: replaced by the first variant's plan, whose cost is finite
  let best: Pattern[] = [];
  let bestCost = Infinity;
  for (const [i, variant] of VARIANTS.entries()) {
    if (i > 0 && model.work >= budget.work) break;
    const patterns = yield* improve(model, yield* greedy(model, counts, variant), variant, budget);
    const cost = model.cost(patterns);
    if (cost < bestCost) [best, bestCost] = [patterns, cost];
  }
  // Never worse than one node type for everything (first fit decreasing), where that is cheap to find.
  const oneType = yield* oneTypeSteps(input, counts);
  if (oneType !== undefined && oneType.costPerHourMicros < bestCost)
    [best, bestCost] = [oneType.patterns, oneType.costPerHourMicros];
  // Stryker disable next-line ConditionalExpression: there is always a first variant, so the best cost is finite
  return { patterns: best, unfit, costPerHourMicros: bestCost === Infinity ? 0 : bestCost, work: model.work };
}

/** First-fit-decreasing over groups with a choice of offering per new instance (see `pack`). */
function* greedy(m: PackingModel, counts: Int32Array, variant: Variant): Steps<Pattern[]> {
  const rem = Int32Array.from(counts);
  const patterns: Pattern[] = [];
  let alive = m.order(variant.order).filter((g) => rem[g]! > 0);
  const classDemand = new Float64Array(m.classCount * (D + 1));
  for (const g of alive) addDemand(m, classDemand, g, rem[g]!);
  const start = new Int32Array(m.O);
  let smallest = smallestSizes(m, alive);

  while (alive.length > 0) {
    if (patterns.length > 0) yield;
    const h = alive[0]!;
    let best = -1;
    let bestScore = Infinity;
    for (const o of shortlist(m, h, rem, classDemand)) {
      const s = fill(m, o, variant, rem, start, smallest, null);
      // The first candidate is taken whatever its score: with a free offering (price 0) a task's value is 0, and
      // scores of 0 / 0 (NaN) or p / 0 (Infinity) are below nothing, which left no instance chosen and looped for ever.
      if (
        best === -1 ||
        s < bestScore ||
        // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: candidates come in ascending index and price
        (s === bestScore && (m.price[o]! < m.price[best]! || (m.price[o] === m.price[best] && o < best)))
      ) {
        best = o;
        bestScore = s;
      }
    }
    const items: PatternItem[] = [];
    fill(m, best, variant, rem, start, smallest, items);
    let times = Infinity;
    for (const item of items) times = Math.min(times, Math.floor(rem[item.group]! / item.count));
    // Stryker disable next-line BooleanLiteral: the groups left and their smallest sizes are recomputed to the same values
    let exhausted = false;
    for (const item of items) {
      rem[item.group]! -= item.count * times;
      addDemand(m, classDemand, item.group, -item.count * times);
      // Stryker disable next-line ConditionalExpression: the groups left and their smallest sizes are recomputed to the same values
      if (rem[item.group] === 0) exhausted = true;
    }
    patterns.push({ offering: best, items: items.sort((a, b) => a.group - b.group), times });
    // Stryker disable next-line ConditionalExpression: the groups left and their smallest sizes are recomputed to the same values
    if (exhausted) {
      alive = alive.filter((g) => rem[g]! > 0);
      smallest = smallestSizes(m, alive);
    }
  }
  return patterns;
}

/**
 * Fills one instance of offering `o` with the head group's tasks (the first group left that fits it), then the
 * following groups' (first fit decreasing), and returns its price per packed value or task. Writes the contents to
 * `items` when given. `start[o]` remembers where the groups left begin in `o`'s list.
 */
function fill(
  m: PackingModel,
  o: number,
  variant: Variant,
  rem: Int32Array,
  start: Int32Array,
  smallest: Float64Array,
  items: PatternItem[] | null,
): number {
  const list = m.fitList(variant.order, o);
  // Stryker disable next-line ConditionalExpression: no home ratio is above a mix limit of Infinity
  const home = variant.mixLimit === Infinity ? null : m.homeRatio(variant.order, o);
  const { size, weight } = m;
  const cap = m.cap;
  let f0 = cap[o * D]!;
  let f1 = cap[o * D + 1]!;
  let f2 = cap[o * D + 2]!;
  let f3 = cap[o * D + 3]!;
  const m0 = smallest[0]!;
  const m1 = smallest[1]!;
  const m2 = smallest[2]!;
  const m3 = smallest[3]!;
  let k = start[o]!;
  while (k < list.length && rem[list[k]!] === 0) k++;
  start[o] = k;
  const from = k;
  let value = 0;
  let tasks = 0;
  for (; k < list.length; k++) {
    const g = list[k]!;
    const left = rem[g]!;
    // Stryker disable next-line ConditionalExpression: with none left, n is 0 and the group is skipped below
    if (left === 0) continue;
    if (home !== null && k > from && home[k]! > variant.mixLimit) continue;
    const s0 = size[g * D]!;
    const s1 = size[g * D + 1]!;
    const s2 = size[g * D + 2]!;
    const s3 = size[g * D + 3]!;
    // Not even one fits: skip the divisions (n would be 0).
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a group that does not fit gets n = 0, skipped below
    if (s0 > f0 || s1 > f1 || s2 > f2 || s3 > f3) continue;
    let n = left;
    if (s0 > 0) n = Math.min(n, Math.floor(f0 / s0));
    if (s1 > 0) n = Math.min(n, Math.floor(f1 / s1));
    if (s2 > 0) n = Math.min(n, Math.floor(f2 / s2));
    if (s3 > 0) n = Math.min(n, Math.floor(f3 / s3));
    // Stryker disable next-line ConditionalExpression,EqualityOperator: n is at least 1 here (every dimension fits once)
    if (n <= 0) continue;
    f0 -= n * s0;
    f1 -= n * s1;
    f2 -= n * s2;
    f3 -= n * s3;
    value += n * weight[g]!;
    tasks += n;
    items?.push({ group: g, count: n });
    if (f0 < m0 || f1 < m1 || f2 < m2 || f3 < m3) break;
  }
  m.work += k - from;
  return m.price[o]! / (variant.score === 'value' ? value : tasks);
}

/** The smallest size in each dimension among `alive`: with less free than that in any dimension, nothing fits. */
function smallestSizes(m: PackingModel, alive: readonly number[]): Float64Array {
  const result = new Float64Array(D).fill(Infinity);
  // Stryker disable next-line EqualityOperator: d = D writes past the typed array, which is dropped
  for (const g of alive) for (let d = 0; d < D; d++) result[d] = Math.min(result[d]!, m.size[g * D + d]!);
  return result;
}

/**
 * The offerings worth filling in full for a new instance headed by group `h`: the cheapest few, the best by price per
 * head task, and the best by price per value if the remaining demand were fluid (the share of it one instance holds).
 */
export function shortlist(
  m: PackingModel,
  h: number,
  rem: Int32Array,
  classDemand: Float64Array,
): ArrayLike<number> & Iterable<number> {
  const all = m.fitKept[h]!;
  if (all.length <= SHORTLIST_ALL) return all;
  const wh = m.weight[h]!;
  const headOnly = m.scratch(0, all.length);
  const fluid = m.scratch(1, all.length);
  // Run for every new instance over every candidate: m.copies inlined, the model's arrays in locals.
  const { cap, price: prices, eligibility, classCount, O } = m;
  const remH = rem[h]!;
  const h0 = m.size[h * D]!;
  const h1 = m.size[h * D + 1]!;
  const h2 = m.size[h * D + 2]!;
  const h3 = m.size[h * D + 3]!;
  // Stryker disable next-line EqualityOperator: k = length writes past the scores' typed arrays, which is dropped
  for (let k = 0; k < all.length; k++) {
    const o = all[k]!;
    const price = prices[o]!;
    const c0 = cap[o * D]!;
    const c1 = cap[o * D + 1]!;
    const c2 = cap[o * D + 2]!;
    const c3 = cap[o * D + 3]!;
    let copies = Infinity;
    if (h0 > 0) copies = Math.min(copies, Math.floor(c0 / h0));
    if (h1 > 0) copies = Math.min(copies, Math.floor(c1 / h1));
    if (h2 > 0) copies = Math.min(copies, Math.floor(c2 / h2));
    if (h3 > 0) copies = Math.min(copies, Math.floor(c3 / h3));
    // Stryker disable next-line ArithmeticOperator: wh is the same positive number for every offering here, so `/ wh` multiplies every score by wh squared: the same order (docs/mutation.md)
    headOnly[k] = price / (Math.min(remH, copies) * wh);
    let d0 = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    let dv = 0;
    // Stryker disable next-line EqualityOperator: c = classCount reads past the eligibility matrix (undefined: skipped)
    for (let c = 0; c < classCount; c++) {
      if (!eligibility[c * O + o]) continue;
      const base = c * (D + 1);
      d0 += classDemand[base]!;
      d1 += classDemand[base + 1]!;
      d2 += classDemand[base + 2]!;
      d3 += classDemand[base + 3]!;
      dv += classDemand[base + 4]!;
    }
    let share = 1;
    if (d0 > 0) share = Math.min(share, c0 / d0);
    if (d1 > 0) share = Math.min(share, c1 / d1);
    if (d2 > 0) share = Math.min(share, c2 / d2);
    if (d3 > 0) share = Math.min(share, c3 / d3);
    fluid[k] = price / (share * dv);
  }
  const picked = new Set<number>();
  for (let k = 0; k < SHORTLIST_EACH / 2; k++) picked.add(all[k]!);
  for (const k of smallestK(headOnly, SHORTLIST_EACH)) picked.add(all[k]!);
  for (const k of smallestK(fluid, SHORTLIST_EACH)) picked.add(all[k]!);
  // Stryker disable next-line MethodExpression,ArrowFunction,ArithmeticOperator: the winner is the least (score, price, index) in any order
  return [...picked].sort((a, b) => a - b);
}

/** Indexes of the k smallest scores (ties to the lower index), in no particular order. */
export function smallestK(scores: Float64Array, k: number): number[] {
  const top: number[] = [];
  // Stryker disable next-line EqualityOperator: i = length reads undefined, which never enters a full top
  for (let i = 0; i < scores.length; i++) {
    if (top.length === k && !(scores[i]! < scores[top[k - 1]!]!)) continue;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: when full, j = k first compares top[k - 1], which the guard above found greater, and steps to k - 1 writing nothing
    let j = top.length < k ? top.length : k - 1;
    while (j > 0 && scores[top[j - 1]!]! > scores[i]!) {
      // Stryker disable next-line ConditionalExpression,EqualityOperator: j starts below k (line above) and only decreases
      if (j < k) top[j] = top[j - 1]!;
      j--;
    }
    top[j] = i;
  }
  return top;
}

function addDemand(m: PackingModel, classDemand: Float64Array, g: number, n: number): void {
  const base = m.groupClass[g]! * (D + 1);
  for (let d = 0; d < D; d++) classDemand[base + d]! += n * m.size[g * D + d]!;
  classDemand[base + D]! += n * m.weight[g]!;
}

/** Shrinks each pattern to its cheapest holder, then re-packs the under-filled single instances together. */
function* improve(
  m: PackingModel,
  patterns: readonly Pattern[],
  variant: Variant,
  budget: PackingBudget,
): Steps<Pattern[]> {
  const shrunk = patterns.map((p) => shrink(m, p));
  const tail = shrunk.filter((p) => p.times === 1 && m.value(p) < TAIL_EFFICIENCY * m.price[p.offering]!);
  if (tail.length < 2) return shrunk;
  const counts = new Int32Array(m.G);
  for (const p of tail) for (const item of p.items) counts[item.group]! += item.count;
  // While work is cheap (small plans), the tail is worth every variant; otherwise only the current one.
  let repacked: Pattern[] = tail;
  for (const v of m.work < budget.smallPlan ? [variant, ...VARIANTS.filter((x) => x !== variant)] : [variant]) {
    const candidate = (yield* greedy(m, counts, v)).map((p) => shrink(m, p));
    if (m.cost(candidate) < m.cost(repacked)) repacked = candidate;
  }
  if (repacked === tail) return shrunk;
  // The re-packed tail takes the place of its first instance, so planning order stays roughly by priority.
  const tailSet = new Set(tail);
  const result: Pattern[] = [];
  for (const p of shrunk) {
    if (p === tail[0]) result.push(...repacked);
    else if (!tailSet.has(p)) result.push(p);
  }
  return result;
}

/** The same contents on the cheapest offering that holds them all and may run every one of them. */
function shrink(m: PackingModel, p: Pattern): Pattern {
  const total = new Float64Array(D);
  // Stryker disable next-line EqualityOperator: d = D writes past the typed array, which is dropped
  for (const item of p.items) for (let d = 0; d < D; d++) total[d]! += item.count * m.size[item.group * D + d]!;
  const first = p.items[0]!.group;
  for (const o of m.fitKept[first]!) {
    if (m.price[o]! >= m.price[p.offering]!) break;
    let ok = true;
    for (let d = 0; d < D && ok; d++) ok = total[d]! <= m.cap[o * D + d]!;
    for (const item of p.items) if (ok) ok = m.fit[item.group * m.O + o] === 1;
    if (ok) return { ...p, offering: o };
  }
  return p;
}

/** Plans of at most this many groups and tasks are remembered (see `rememberedPacking`). */
const MEMO_MAX_GROUPS = 8;
const MEMO_MAX_TASKS = 64;
/** Plans remembered per table of offerings before they are all dropped. */
const MEMO_MAX_ENTRIES = 4_096;

interface MemoEntry {
  readonly eligibility: Uint8Array;
  readonly packing: Packing;
}

/** Remembered small plans, per table of offerings (weakly: a table no longer used drops its plans). */
const memos = new WeakMap<OfferingTable, Map<string, MemoEntry[]>>();

/**
 * The packing remembered for an input equal to `input`, if any, and how to remember this one's.
 *
 * `pack` is a pure function of its input: the groups' sizes, priorities and classes, the counts, the offerings (their
 * capacities and prices, by the table that holds the same offerings) and the eligibility matrix; it reads nothing
 * else (the tasks themselves never). So an equal input gets the packing computed before, and the decisions are the
 * ones computing it again would make. Most passes of a busy controller plan a few tasks of shapes seen before (a
 * replayed year plans thousands of one-task plans over the same 3,000 offerings): each then costs a key instead of a
 * packing. Only small plans are remembered: their cost is mostly the setup over the offerings, and they recur; a
 * large plan rarely recurs, costs its packing (which runs in slices), and its patterns are large to keep.
 */
interface Remembered {
  readonly packing?: Packing;
  readonly remember: (packing: Packing) => void;
}

const NOT_REMEMBERED: Remembered = { remember: () => undefined };

function rememberedPacking(input: PackingInput): Remembered {
  const G = input.groups.length;
  let tasks = 0;
  for (let g = 0; g < G; g++) tasks += input.counts[g]!;
  if (G > MEMO_MAX_GROUPS || G === 0 || tasks > MEMO_MAX_TASKS) return NOT_REMEMBERED;
  const table = OfferingTable.of(input.offerings);
  let byKey = memos.get(table);
  if (byKey === undefined) memos.set(table, (byKey = new Map()));
  // Stryker disable next-line StringLiteral: inputs of different class counts have eligibility bytes of different lengths
  let key = `${input.classCount}`;
  for (let g = 0; g < G; g++) {
    const { size, priority, classIndex } = input.groups[g]!;
    key += `|${input.counts[g]!},${priority},${classIndex},${size.cpuMillis},${size.memoryMiB},${size.gpus},${size.netMbps}`;
  }
  const entries = byKey.get(key);
  const eligibility = Buffer.from(input.eligibility.buffer, input.eligibility.byteOffset, input.eligibility.byteLength);
  const found = entries?.find((e) => eligibility.equals(e.eligibility));
  if (found !== undefined) return { packing: found.packing, remember: () => undefined };
  const memo = byKey;
  return {
    remember: (packing) => {
      if (memo.size >= MEMO_MAX_ENTRIES) memo.clear();
      const list = memo.get(key) ?? [];
      list.push({ eligibility: Uint8Array.from(input.eligibility), packing });
      memo.set(key, list);
    },
  };
}
