/**
 * Planner throughput: one plan for 1,000, 5,000, 20,000, 100,000 and 1,000,000 pending tasks of mixed shapes drawn
 * from the traces (KTH SP2 CPU jobs, Alibaba GPU pods), over every offering of one AWS and one GCE region of the
 * bundled catalog (over 3,000), without limits. Each size runs in a child process of its own: the median of 5 plans
 * (the first includes warm-up, as a controller's first pass does), the median CPU time of the same plans (about the
 * wall time on an idle machine, give or take the collector's helper threads) and the process's peak resident memory.
 * Anchor: Karpenter's scheduling benchmark packs 5,000 pods in about 3.7 s and 20,000 in about 20 s on a laptop.
 * Targets (issue 15): 20,000 tasks at most 200 ms, 100,000 under 5 s, 1,000,000 at most 10 s. `--quick`: 1k and 20k.
 */
import { round, quantile, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { runChild } from './lib/child.ts';

const RUNS = 5;

interface ChildResult {
  readonly n: number;
  readonly offerings: number;
  readonly times: readonly number[];
  readonly cpuTimes: readonly number[];
  readonly instances: number;
  readonly rssBeforeMiB: number;
  readonly peakRssMiB: number;
}

export const benchmark: Benchmark = {
  name: 'planner-throughput',
  description:
    'median wall time and peak memory of one plan for 1k-1M pending trace tasks over two regions of offerings',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const sizes = ctx.quick ? [1_000, 20_000] : [1_000, 5_000, 20_000, 100_000, 1_000_000];
    const metrics: Record<string, number> = {};
    for (const n of sizes) {
      const r = await runChild<ChildResult>('./plan-child.ts', [n, ctx.seed, RUNS]);
      const median = quantile(r.times, 0.5);
      const cpuMedian = quantile(r.cpuTimes, 0.5);
      ctx.log(
        `  ${n} tasks over ${r.offerings} offerings: ${r.times.map((t) => t.toFixed(0)).join(', ')} ms (median ${median.toFixed(0)}; ` +
          `CPU median ${cpuMedian.toFixed(0)} ms); ` +
          `${r.instances} instances; peak RSS ${r.peakRssMiB.toFixed(0)} MiB (${r.rssBeforeMiB.toFixed(0)} before planning)`,
      );
      metrics.offerings = r.offerings;
      const key = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
      metrics[`ms.${key}`] = round(median, 1);
      metrics[`cpuMs.${key}`] = round(cpuMedian, 1);
      metrics[`peakRssMiB.${key}`] = round(r.peakRssMiB, 0);
      metrics[`instances.${key}`] = r.instances;
    }
    return {
      metrics,
      targets: [
        { metric: 'offerings', min: 400 },
        { metric: 'ms.20k', max: 200 },
        { metric: 'ms.100k', max: 5_000 },
        { metric: 'ms.1M', max: 10_000 },
      ],
    };
  },
};
