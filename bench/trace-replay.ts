/**
 * Trace replay: real years through `spillway simulate` with its defaults (AWS us-east-1 and GCE us-central1 from the
 * bundled catalog, the production policy).
 *
 * - The whole KTH SP2 year (27,992 jobs, 100-processor machine, Sep 1996 to Aug 1997): wall time of Spillway's replay
 *   (median of 3; target at most 15 s, issue 15), and its cost and waits against private-only, a fixed node group and the fluid
 *   lower bound of the cloud work it ran.
 * - The runs that burst hard (issue 16): the KTH year at its own 100 CPUs and at `--private-cpus` 16, 32 and 64, and
 *   the Alibaba GPU pods on their node list. For each, Spillway's cloud cost over the bound and p99 wait, and the
 *   fixed node group's cloud cost and p99 wait. Targets: Spillway's p99 at most the node group's plus 120 s, its cloud
 *   cost at most the node group's and at most 1.20 times the bound.
 */
import { join, relative } from 'node:path';
import { defaultSimConfig, openTrace } from '../src/sim/scenario.ts';
import { simulateTrace, type SimulationReport } from '../src/sim/simulate.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult, type BenchTarget } from './lib/bench.ts';
import { ALIBABA_PODS, KTH_TRACE } from './lib/workloads.ts';

/** The tail runs: a name for the metrics, the trace, and the private cluster (undefined: the trace's own). */
const TAIL_RUNS: readonly { readonly name: string; readonly trace: string; readonly privateCpus?: number }[] = [
  { name: 'kth', trace: KTH_TRACE },
  { name: 'kth16', trace: KTH_TRACE, privateCpus: 16 },
  { name: 'kth32', trace: KTH_TRACE, privateCpus: 32 },
  { name: 'kth64', trace: KTH_TRACE, privateCpus: 64 },
  { name: 'alibaba', trace: ALIBABA_PODS },
];

/** Spillway's p99 wait may exceed the node group's by this much (s); its cloud cost may be this many times the bound. */
const P99_SLACK_S = 120;
const MAX_OVER_BOUND = 1.2;

export const benchmark: Benchmark = {
  name: 'trace-replay',
  description:
    'real years through the simulator: KTH wall time; cost over the bound and p99 wait vs a node group on five bursty runs',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const limit = ctx.quick ? 3_000 : undefined;
    const trace = await openTrace(KTH_TRACE, limit === undefined ? {} : { limit });
    const sim = defaultSimConfig();
    const full = await simulateTrace(KTH_TRACE, trace, sim, { seed: ctx.seed });
    const first = full.runs.find((r) => r.name === 'spillway')!;
    const walls = [first.wallS];
    const cpus = [first.cpuS];
    for (let i = 1; i < 3; i++) {
      const again = await simulateTrace(KTH_TRACE, trace, sim, { seed: ctx.seed, only: ['spillway'] });
      walls.push(again.runs[0]!.wallS);
      cpus.push(again.runs[0]!.cpuS);
    }
    ctx.log(
      `  Spillway replays: wall ${walls.map((w) => w.toFixed(1)).join(', ')} s; CPU ${cpus.map((c) => c.toFixed(1)).join(', ')} s`,
    );
    const run = (name: string): SimulationReport['runs'][number] => full.runs.find((r) => r.name === name)!;
    const [spillway, privateOnly, fixed] = [run('spillway'), run('private-only'), run('fixed-node-group')];
    for (const r of full.runs) {
      ctx.log(
        `  ${r.name}: cloud $${r.cloudUsd.toFixed(2)}, total $${r.totalUsd.toFixed(2)}, ${r.cloudInstanceHours.toFixed(0)} instance-hours, ` +
          `wait p50/p95/p99 ${r.waitS.p50.toFixed(0)}/${r.waitS.p95.toFixed(0)}/${r.waitS.p99.toFixed(0)} s (${r.wallS.toFixed(1)} s wall)`,
      );
    }

    const tails: Record<string, number> = {};
    const targets: BenchTarget[] = [];
    for (const t of TAIL_RUNS) {
      const report =
        t.name === 'kth'
          ? full
          : await simulateTrace(
              t.trace,
              await openTrace(t.trace, {
                ...(limit === undefined ? {} : { limit }),
                ...(t.privateCpus === undefined ? {} : { privateCpus: t.privateCpus }),
              }),
              sim,
              { seed: ctx.seed, only: ['spillway', 'fixed-node-group'] },
            );
      const s = report.runs.find((r) => r.name === 'spillway')!;
      const g = report.runs.find((r) => r.name === 'fixed-node-group')!;
      const over = report.overBound!;
      tails[`${t.name}.spillway.cloudUsd`] = round(s.cloudUsd, 2);
      tails[`${t.name}.spillway.cloudOverBound`] = round(over.ratio, 3);
      tails[`${t.name}.spillway.waitP99S`] = round(s.waitS.p99, 0);
      tails[`${t.name}.nodeGroup.cloudUsd`] = round(g.cloudUsd, 2);
      tails[`${t.name}.nodeGroup.cloudOverBound`] = round(over.boundUsd > 0 ? g.cloudUsd / over.boundUsd : 0, 3);
      tails[`${t.name}.nodeGroup.waitP99S`] = round(g.waitS.p99, 0);
      tails[`${t.name}.p99OverNodeGroupS`] = round(s.waitS.p99 - g.waitS.p99, 0);
      tails[`${t.name}.cloudVsNodeGroup`] = round(g.cloudUsd > 0 ? s.cloudUsd / g.cloudUsd : 0, 3);
      targets.push(
        { metric: `${t.name}.spillway.cloudOverBound`, max: MAX_OVER_BOUND },
        { metric: `${t.name}.p99OverNodeGroupS`, max: P99_SLACK_S },
        { metric: `${t.name}.cloudVsNodeGroup`, max: 1 },
      );
      ctx.log(
        `  ${t.name}: Spillway cloud $${s.cloudUsd.toFixed(0)} = ${over.ratio.toFixed(2)} x bound $${over.boundUsd.toFixed(0)}, ` +
          `p99 ${s.waitS.p99.toFixed(0)} s; node group $${g.cloudUsd.toFixed(0)}, p99 ${g.waitS.p99.toFixed(0)} s ` +
          `(over the bound: boot $${over.bootUsd.toFixed(0)}, idle $${(over.idleBeforeReleaseUsd + over.idleBetweenTasksUsd).toFixed(0)}, ` +
          `packing $${over.packingLossUsd.toFixed(0)}, price gap $${over.priceGapUsd.toFixed(0)})`,
      );
    }
    return {
      metrics: {
        tasks: spillway.tasks.submitted,
        'spillway.wallS.median': round(quantile(walls, 0.5), 1),
        'spillway.cpuS.median': round(quantile(cpus, 0.5), 1),
        'spillway.cloudUsd': round(spillway.cloudUsd, 2),
        'spillway.totalUsd': round(spillway.totalUsd, 2),
        'spillway.instanceHours': round(spillway.cloudInstanceHours, 1),
        'spillway.waitP95S': round(spillway.waitS.p95, 0),
        'spillway.waitP99S': round(spillway.waitS.p99, 0),
        'lowerBound.cloudUsd': round(full.lowerBound.usd, 2),
        'spillway.cloudOverBound': round(spillway.cloudUsd / full.lowerBound.usd, 3),
        'privateOnly.waitP95S': round(privateOnly.waitS.p95, 0),
        'privateOnly.waitP99S': round(privateOnly.waitS.p99, 0),
        'privateOnly.totalUsd': round(privateOnly.totalUsd, 2),
        'nodeGroup.cloudUsd': round(fixed.cloudUsd, 2),
        'nodeGroup.waitP95S': round(fixed.waitS.p95, 0),
        'nodeGroup.type': fixed.description.replace(/^one node group of (\S+).*$/, '$1'),
        ...tails,
      },
      targets: [
        { metric: 'spillway.wallS.median', max: 15 },
        { metric: 'spillway.cloudOverBound', min: 1 },
        ...targets,
      ],
      // The trace's path relative to the repository, so results.json does not carry the machine's folders.
      details: { ...full, trace: relative(join(import.meta.dirname, '..'), full.trace) },
    };
  },
};
