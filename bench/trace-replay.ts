/**
 * Trace replay: the whole KTH SP2 year (27,992 jobs, 100-processor machine, Sep 1996 to Aug 1997) through
 * `spillway simulate` with its defaults (AWS us-east-1 and GCE us-central1 from the bundled catalog, the production
 * policy). Wall time of Spillway's replay (median of 3; target under 60 s), and its cost and waits against
 * private-only, a fixed node group and the fluid lower bound of the cloud work it ran.
 */
import { defaultSimConfig, openTrace } from '../src/sim/scenario.ts';
import { simulateTrace, type SimulationReport } from '../src/sim/simulate.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { KTH_TRACE } from './lib/workloads.ts';

export const benchmark: Benchmark = {
  name: 'trace-replay',
  description:
    'the KTH SP2 year through the simulator: wall time, cost and waits vs private-only, a node group, the bound',
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
      },
      targets: [
        { metric: 'spillway.wallS.median', max: 60 },
        { metric: 'spillway.cloudOverBound', min: 1 },
      ],
      details: full,
    };
  },
};
