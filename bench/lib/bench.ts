/** What a benchmark module in bench/ exports, and what bench/run.ts gives it and expects back. */

export interface BenchContext {
  /** Progress lines for people (stderr); results go in the returned metrics. */
  readonly log: (line: string) => void;
  readonly seed: number;
  /** Set by `--quick`: a smaller run for a smoke check. */
  readonly quick: boolean;
}

/** A target a metric should meet, e.g. `{ metric: 'spillway.median', max: 1.05 }`. */
export interface BenchTarget {
  readonly metric: string;
  readonly max?: number;
  readonly min?: number;
}

export interface BenchResult {
  /** Flat metrics: name -> number (or a short string). */
  readonly metrics: Readonly<Record<string, number | string>>;
  readonly targets?: readonly BenchTarget[];
  /** Anything else worth keeping in results.json (per-workload rows, settings). */
  readonly details?: unknown;
}

export interface Benchmark {
  /** Short, unique: the key in results.json and the name `npm run bench -- NAME` selects. */
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** The value at quantile q (0..1) of `values`, by linear interpolation between closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function round(value: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
