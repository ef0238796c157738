import highsModule, { type Highs } from 'highs';
import { SpillwayError } from '../core/errors.ts';
import { once } from '../core/once.ts';
import { offeringKey, type Offering } from '../core/offering.ts';
import type { Policy } from '../core/policy.ts';
// A bound over demand: task headers, never their commands.
import type { TaskHeader as Task } from '../core/task.ts';
import { classEligibility, groupTasks, toVector, type TaskGroup } from '../autoscaler/planner-groups.ts';
import { allowedOfferings } from './price-book-filter.ts';

/**
 * The fluid lower bound of the hourly cost of running a set of tasks on new cloud instances.
 *
 * Formulation. Tasks are grouped into classes `g` of identical shape `s_g` (CPU, memory, GPUs, network) and identical
 * constraints, with `n_g` tasks each. Offering `o` (only those the policy allows: `offeringAllowed`) has capacity
 * `c_o` and price `p_o` per hour. The pair `(g, o)` is compatible when a task of `g` may run on `o` (the same
 * eligibility rule placement uses: provider, GPU model, labels, spot only for revocable tasks) and fits it alone
 * (`s_g <= c_o` in every dimension). Variables: `x_o >= 0`, the fractional number of instances of `o`, and
 * `y_go >= 0`, the fractional number of tasks of `g` assigned to `o`, for compatible pairs only.
 *
 *     minimise    sum_o p_o x_o
 *     subject to  sum_o y_go = n_g                          for every class g         (every task assigned)
 *                 sum_g s_g[d] y_go <= c_o[d] x_o           for every offering o and dimension d
 *
 * Validity. Any integral plan that runs these tasks on new instances of the same allowed offerings, under the same
 * constraints, gives a feasible point: `x_o` = its instances of `o`, `y_go` = its tasks of `g` on them; each instance
 * holds its tasks in every dimension, so the sums hold. Its cost is the plan's hourly cost, so the LP optimum is at
 * most the cost of any such plan. Policy limits (instances, vCPUs, GPUs) and budgets only remove plans, so they keep
 * the bound valid, and are left out.
 *
 * Reductions that keep the optimum: offerings whose every compatible class is also compatible with another offering
 * that is no dearer per unit in every demanded dimension (`p_o' c_o[d] <= p_o c_o'[d]`) are dropped, since moving
 * their load there never costs more; dimensions no task demands are dropped. Tasks no allowed offering can run are
 * left out of the bound and reported.
 *
 * Tolerance: HiGHS solves to a relative precision of about 1e-9; compare a plan's cost with the bound allowing
 * LOWER_BOUND_RELATIVE_TOLERANCE.
 */
export interface LowerBound {
  /** The LP optimum in micro-USD per hour (fractional). */
  readonly costPerHourMicros: number;
  /** Tasks the bound covers (every task some allowed offering can run). */
  readonly coveredTaskIds: readonly string[];
  /** Tasks no allowed offering can run (private-only, no fit, no eligible offering): not in the bound. */
  readonly uncoveredTaskIds: readonly string[];
  /** The fractional instances of the optimum, by offering key, dearest share first. */
  readonly instances: readonly { readonly offeringKey: string; readonly count: number }[];
  /**
   * Per class of identical tasks (shape and constraints) the bound covers: its task ids and the LP's marginal cost of
   * one more of its tasks (the dual of its assignment row), micro-USD per hour. Diagnostics: a plan instance whose
   * tasks' marginal costs sum to less than its price is where a plan loses against the bound.
   */
  readonly classes: readonly { readonly taskIds: readonly string[]; readonly marginalCostPerHourMicros: number }[];
  /** Size of the LP solved: task classes, offerings kept after reduction, variables. */
  readonly stats: { readonly classes: number; readonly offerings: number; readonly variables: number };
}

/** The relative tolerance to allow when checking `planCost >= bound` (numerical precision of the LP solve). */
export const LOWER_BOUND_RELATIVE_TOLERANCE = 1e-6;

export interface LowerBoundOptions {
  /** Offering keys to leave out, as the planner's `unavailable`. */
  readonly unavailable?: ReadonlySet<string>;
}

/**
 * The loader. Node loads the package's ES module, whose default export is the loader; its type declarations are
 * CommonJS-flavoured, so TypeScript sees the loader one `.default` further down. Accept both.
 */
type HighsLoader = typeof highsModule.default;
const loadHighs: HighsLoader =
  (highsModule as unknown as { default?: HighsLoader }).default ?? (highsModule as unknown as HighsLoader);

/** The solver, loaded on first use and shared by every later bound. */
const highs: () => Promise<Highs> = once(loadHighs);

/**
 * Solves the fluid relaxation above for `tasks` over the `offerings` the `policy` allows. Throws a SpillwayError when
 * the solver fails (it does not for well-formed input: the LP is always feasible once uncoverable tasks are removed).
 */
export async function fluidLowerBound(
  tasks: readonly Task[],
  offerings: readonly Offering[],
  policy: Policy,
  opts: LowerBoundOptions = {},
): Promise<LowerBound> {
  const allowed = allowedOfferings(policy, offerings, opts.unavailable);
  const { classes, groups } = groupTasks(tasks, { byPriority: false });
  const eligibility = classEligibility(classes, allowed);
  const compatible = (g: TaskGroup, o: number): boolean =>
    eligibility[g.classIndex * allowed.length + o] === 1 && fitsVector(toVector(g.size), vectors(allowed[o]!));
  const compat = groups.map((g) => allowed.map((_, o) => compatible(g, o)));
  const covered = groups.map((_, gi) => compat[gi]!.some(Boolean));
  const live = groups.filter((_, gi) => covered[gi]);
  const liveCompat = compat.filter((_, gi) => covered[gi]);
  const uncoveredTaskIds = groups.filter((_, gi) => !covered[gi]).flatMap((g) => g.tasks.map((t) => t.id));
  const coveredTaskIds = live.flatMap((g) => g.tasks.map((t) => t.id));
  const empty = {
    costPerHourMicros: 0,
    coveredTaskIds,
    uncoveredTaskIds,
    instances: [],
    classes: [],
    stats: { classes: live.length, offerings: 0, variables: 0 },
  };
  if (live.length === 0) return empty;

  const demanded = [0, 1, 2, 3].filter((d) => live.some((g) => toVector(g.size)[d]! > 0));
  const kept = keepUndominated(allowed, liveCompat, demanded);
  return solve(await highs(), live, allowed, kept, liveCompat, demanded, { coveredTaskIds, uncoveredTaskIds });
}

function vectors(o: Offering): number[] {
  return toVector(o.capacity);
}

function fitsVector(size: readonly number[], cap: readonly number[]): boolean {
  return size.every((s, d) => s <= cap[d]!);
}

/** Offering indexes that no other offering dominates (see the formulation's reductions), in input order. */
function keepUndominated(
  allowed: readonly Offering[],
  compat: readonly boolean[][],
  demanded: readonly number[],
): number[] {
  const caps = allowed.map(vectors);
  const sig = allowed.map((_, o) => compat.map((row) => row[o]!));
  const useful = allowed.map((_, o) => sig[o]!.some(Boolean));
  const dominates = (a: number, b: number): boolean => {
    const pa = allowed[a]!.pricePerHourMicros;
    const pb = allowed[b]!.pricePerHourMicros;
    for (const d of demanded) {
      const cb = caps[b]![d]!;
      if (cb > 0 && pa * cb > pb * caps[a]![d]!) return false;
    }
    return sig[b]!.every((ok, g) => !ok || sig[a]![g]!);
  };
  const kept: number[] = [];
  for (let b = 0; b < allowed.length; b++) {
    if (!useful[b]) continue;
    let dominated = false;
    for (let a = 0; a < allowed.length && !dominated; a++) {
      if (a === b || !useful[a] || !dominates(a, b)) continue;
      // Mutual dominance (same unit prices, same classes): keep the first.
      dominated = !dominates(b, a) || a < b;
    }
    if (!dominated) kept.push(b);
  }
  return kept;
}

function solve(
  solver: Highs,
  groups: readonly TaskGroup[],
  allowed: readonly Offering[],
  kept: readonly number[],
  compat: readonly boolean[][],
  demanded: readonly number[],
  ids: { coveredTaskIds: string[]; uncoveredTaskIds: string[] },
): LowerBound {
  // Columns: x_o for each kept offering, then y_go for each compatible pair. Rows: one per class (assignment), then
  // one per kept offering and demanded dimension (capacity), scaled by the capacity so coefficients stay near 1.
  const pairs: { g: number; k: number }[] = [];
  groups.forEach((_, g) => kept.forEach((o, k) => compat[g]![o] && pairs.push({ g, k })));
  const numCols = kept.length + pairs.length;
  const capRow = (k: number, di: number): number => groups.length + k * demanded.length + di;
  const numRows = groups.length + kept.length * demanded.length;
  const columns: { row: number; value: number }[][] = [];
  kept.forEach((o, k) => {
    const cap = vectors(allowed[o]!);
    const col: { row: number; value: number }[] = [];
    demanded.forEach((d, di) => cap[d]! > 0 && col.push({ row: capRow(k, di), value: -1 }));
    columns.push(col);
  });
  for (const { g, k } of pairs) {
    const size = toVector(groups[g]!.size);
    const cap = vectors(allowed[kept[k]!]!);
    const col = [{ row: g, value: 1 }];
    demanded.forEach((d, di) => size[d]! > 0 && col.push({ row: capRow(k, di), value: size[d]! / cap[d]! }));
    columns.push(col);
  }
  const starts = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (const col of columns) {
    for (const { row, value } of col) {
      indices.push(row);
      values.push(value);
    }
    starts.push(indices.length);
  }
  const inf = solver.infinity;
  const rowLower = [...groups.map((g) => g.tasks.length), ...Array<number>(numRows - groups.length).fill(-inf)];
  const rowUpper = [...groups.map((g) => g.tasks.length), ...Array<number>(numRows - groups.length).fill(0)];
  const colCost = [...kept.map((o) => allowed[o]!.pricePerHourMicros / 1e6), ...pairs.map(() => 0)];
  const result = solver.withModel(
    {
      numCols,
      numRows,
      colCost,
      colLower: Array<number>(numCols).fill(0),
      colUpper: Array<number>(numCols).fill(inf),
      rowLower,
      rowUpper,
      matrix: { format: 'csc', numRows, numCols, starts, indices, values },
    },
    (model) => {
      model.options.set({ output_flag: false });
      model.run();
      const solution = model.getSolution();
      return {
        status: model.getModelStatus(),
        objective: model.getObjectiveValue(),
        x: solution.colValue,
        duals: solution.rowDual,
      };
    },
  );
  if (result.status !== solver.constants.modelStatus.optimal) {
    throw new SpillwayError(`solving the fluid lower bound: HiGHS ended with model status ${result.status}`);
  }
  const instances = kept
    .map((o, k) => ({
      offeringKey: offeringKey(allowed[o]!),
      count: result.x[k]!,
      price: allowed[o]!.pricePerHourMicros,
    }))
    .filter((i) => i.count > 1e-9)
    .sort((a, b) => b.count * b.price - a.count * a.price || (a.offeringKey < b.offeringKey ? -1 : 1))
    .map(({ offeringKey: key, count }) => ({ offeringKey: key, count }));
  return {
    costPerHourMicros: result.objective * 1e6,
    ...ids,
    instances,
    classes: groups.map((g, gi) => ({
      taskIds: g.tasks.map((t) => t.id),
      marginalCostPerHourMicros: result.duals[gi]! * 1e6,
    })),
    stats: { classes: groups.length, offerings: kept.length, variables: numCols },
  };
}
