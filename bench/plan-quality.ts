/**
 * Plan quality: over random workloads drawn from the traces, the ratio of the planner's hourly cost to the fluid LP
 * lower bound (src/cost-model/lower-bound.ts), median and p95, and the same for a naive baseline (one fixed instance
 * type, first fit). Plans are over the real catalog offerings of one AWS and one GCE region (bench/lib/
 * catalog-offerings.ts), without limits, spot allowed. Each ratio compares a plan with the bound of the tasks that
 * plan covers. Target: median <= 1.05 and p95 <= 1.10 for Spillway.
 */
import { performance } from 'node:perf_hooks';
import { plan } from '../src/autoscaler/planner.ts';
import { PRODUCTION_POLICY, type Policy } from '../src/core/policy.ts';
import type { Task } from '../src/core/task.ts';
import { fluidLowerBound } from '../src/cost-model/lower-bound.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { benchOfferings } from './lib/catalog-offerings.ts';
import { naivePlan } from './lib/naive-baseline.ts';
import { drawWorkloads } from './lib/workloads.ts';

const POLICY: Policy = {
  ...PRODUCTION_POLICY,
  pendingGraceMs: 0,
  limits: { maxInstances: 1_000_000, maxVcpus: 100_000_000, maxGpus: 1_000_000 },
};

export const benchmark: Benchmark = {
  name: 'plan-quality',
  description: 'plan cost / fluid LP lower bound over trace workloads (AWS us-east-1 + GCE us-central1)',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const count = ctx.quick ? 30 : 240;
    const offerings = benchOfferings();
    const workloads = await drawWorkloads(count, ctx.seed, { minTasks: 20, maxTasks: 300 });
    ctx.log(`plan-quality: ${workloads.length} workloads over ${offerings.length} offerings`);
    const rows: {
      workload: string;
      tasks: number;
      spillway: number;
      baseline: number;
      baselineType: string;
      planMs: number;
    }[] = [];
    let uncovered = 0;
    for (const [i, w] of workloads.entries()) {
      const started = performance.now();
      const result = plan({
        nowMs: 0,
        policy: POLICY,
        pending: w.tasks,
        agents: [],
        openLaunches: [],
        offerings,
        unavailable: new Set(),
      });
      const planMs = performance.now() - started;
      const planCost = result.launches.reduce((sum, l) => sum + l.count * l.offering.pricePerHourMicros, 0);
      const launched = new Set(result.launches.flatMap((l) => l.taskIds));
      const covered = w.tasks.filter((t) => launched.has(t.id));
      uncovered += w.tasks.length - covered.length;
      const bound = await boundOf(covered, offerings);
      const naive = naivePlan(w.tasks, offerings, POLICY);
      const naiveBound =
        naive.coveredTasks.length === covered.length ? bound : await boundOf(naive.coveredTasks, offerings);
      rows.push({
        workload: w.name,
        tasks: w.tasks.length,
        spillway: round(planCost / bound, 6),
        baseline: round(naive.costPerHourMicros / naiveBound, 6),
        baselineType: naive.instanceType,
        planMs: round(planMs, 2),
      });
      if ((i + 1) % 20 === 0 || i + 1 === workloads.length) {
        const ratios = rows.map((r) => r.spillway);
        ctx.log(
          `  ${i + 1}/${workloads.length} workloads: median ${quantile(ratios, 0.5).toFixed(4)}, p95 ${quantile(ratios, 0.95).toFixed(4)}`,
        );
      }
    }
    const spillway = rows.map((r) => r.spillway);
    const baseline = rows.map((r) => r.baseline);
    return {
      metrics: {
        workloads: rows.length,
        offerings: offerings.length,
        'spillway.median': round(quantile(spillway, 0.5)),
        'spillway.p95': round(quantile(spillway, 0.95)),
        'spillway.max': round(Math.max(...spillway)),
        'baseline.median': round(quantile(baseline, 0.5)),
        'baseline.p95': round(quantile(baseline, 0.95)),
        'planMs.median': round(
          quantile(
            rows.map((r) => r.planMs),
            0.5,
          ),
          2,
        ),
        uncoveredTasks: uncovered,
      },
      targets: [
        { metric: 'spillway.median', max: 1.05 },
        { metric: 'spillway.p95', max: 1.1 },
      ],
      details: { rows },
    };
  },
};

async function boundOf(tasks: readonly Task[], offerings: Parameters<typeof fluidLowerBound>[1]): Promise<number> {
  return (await fluidLowerBound(tasks, offerings, POLICY)).costPerHourMicros;
}
