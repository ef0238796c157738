/**
 * Planner speed: one plan for 20,000 and for 100,000 pending tasks drawn from the traces, over the real catalog
 * offerings of one AWS and one GCE region (thousands of offerings), without limits. Targets: under 1 s and 5 s.
 */
import { performance } from 'node:perf_hooks';
import { plan } from '../src/autoscaler/planner.ts';
import { PRODUCTION_POLICY, type Policy } from '../src/core/policy.ts';
import type { Task } from '../src/core/task.ts';
import { round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { benchOfferings } from './lib/catalog-offerings.ts';
import { drawWorkloads } from './lib/workloads.ts';

/** Plans per size; the figure is their median (the first includes warm-up, as a controller's first pass does). */
const RUNS = 5;

const POLICY: Policy = {
  ...PRODUCTION_POLICY,
  pendingGraceMs: 0,
  limits: { maxInstances: 10_000_000, maxVcpus: 1_000_000_000, maxGpus: 10_000_000 },
};

/** `n` tasks: whole trace windows (KTH, Alibaba, mixed) concatenated until there are enough. */
export function manyTasks(n: number, seed: number): Task[] {
  const tasks: Task[] = [];
  for (const w of drawWorkloads(Math.ceil(n / 500) + 3, seed, { minTasks: 400, maxTasks: 600 })) tasks.push(...w.tasks);
  return tasks.slice(0, n);
}

export const benchmark: Benchmark = {
  name: 'planner-speed',
  description: 'wall time of one plan for 20,000 and 100,000 pending trace tasks over two regions of offerings',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const offerings = benchOfferings();
    const sizes = ctx.quick ? [20_000] : [20_000, 100_000];
    const metrics: Record<string, number> = { offerings: offerings.length };
    for (const n of sizes) {
      const pending = manyTasks(n, ctx.seed);
      const times: number[] = [];
      let launched = 0;
      for (let run = 0; run < RUNS; run++) {
        const started = performance.now();
        const result = plan({
          nowMs: 0,
          policy: POLICY,
          pending,
          agents: [],
          openLaunches: [],
          offerings,
          unavailable: new Set(),
        });
        times.push(performance.now() - started);
        launched = result.launches.reduce((s, l) => s + l.count, 0);
      }
      const sorted = [...times].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      ctx.log(`  ${n} tasks: ${times.map((t) => t.toFixed(0)).join(', ')} ms (median ${median.toFixed(0)}); ${launched} instances`);
      metrics[`ms.${n / 1000}k`] = round(median, 1);
      metrics[`instances.${n / 1000}k`] = launched;
    }
    return {
      metrics,
      targets: [
        { metric: 'ms.20k', max: 1_000 },
        { metric: 'ms.100k', max: 5_000 },
      ],
    };
  },
};
