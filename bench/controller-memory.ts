/**
 * Controller memory and pass time: a store holding 50,000 agents, each running 4 tasks (200,000 tasks), plus 1,000
 * pending ones; the real controller opens it (SQLite file, as in production) and runs 5 passes, planning launches for
 * the pending tasks. The first pass loads the in-memory model (src/model/); the later ones read only what changed.
 * Each measurement is a child process of its own on a fresh copy of the filled store; figures are medians over 3.
 *
 * Targets (issue 15): a pass after the first at most 200 ms, peak resident memory at most 512 MiB, and the event loop
 * never held more than 50 ms during a pass (perf_hooks.monitorEventLoopDelay's max: what an API request served by the
 * same process would have waited).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { runChild } from './lib/child.ts';

interface Measured {
  readonly agents: number;
  readonly tasks: number;
  readonly passMs: readonly number[];
  /** The process's CPU time (user and system) during each pass. */
  readonly passCpuMs: readonly number[];
  /** The event loop's longest delay during each pass. */
  readonly stallMs: readonly number[];
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

const PASSES = 5;

export const benchmark: Benchmark = {
  name: 'controller-memory',
  description:
    'pass time, stalls and peak memory of the controller over 50,000 agents, 200,000 running and 1,000 pending tasks',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const agents = ctx.quick ? 10_000 : 50_000;
    const runs = 3;
    const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-memory-'));
    try {
      const filled = join(dir, 'filled.db');
      const { fillS } = await runChild<{ fillS: number }>('./memory-child.ts', ['fill', filled, agents, 4]);
      ctx.log(`  filled ${agents} agents and ${agents * 4} running tasks in ${fillS.toFixed(1)} s`);
      const results: Measured[] = [];
      for (let run = 0; run < runs; run++) {
        const db = join(dir, `run-${run}.db`);
        copyFileSync(filled, db);
        const r = await runChild<Measured>('./memory-child.ts', ['measure', db, PASSES]);
        ctx.log(
          `  run ${run + 1}: peak RSS ${r.peakRssMiB.toFixed(0)} MiB, after ${r.rssMiB.toFixed(0)} MiB; ` +
            `passes ${r.passMs.map((ms) => ms.toFixed(0)).join(', ')} ms ` +
            `(CPU ${r.passCpuMs.map((ms) => ms.toFixed(0)).join(', ')} ms); ` +
            `event loop held at most ${r.stallMs.map((ms) => ms.toFixed(0)).join(', ')} ms; ` +
            `load average ${loadavg()[0]!.toFixed(1)}`,
        );
        results.push(r);
        rmSync(db, { force: true });
      }
      const median = (values: readonly number[]): number => round(quantile(values, 0.5), 0);
      const later = <T>(values: readonly T[]): T[] => values.slice(1);
      return {
        metrics: {
          agents: results[0]!.agents,
          tasks: results[0]!.tasks,
          'peakRssMiB.median': median(results.map((r) => r.peakRssMiB)),
          'passMs.median': median(results.flatMap((r) => later(r.passMs))),
          'passCpuMs.median': median(results.flatMap((r) => later(r.passCpuMs))),
          'firstPassMs.median': median(results.map((r) => r.passMs[0]!)),
          'stallMs.max': round(Math.max(...results.flatMap((r) => later(r.stallMs))), 0),
          'firstPassStallMs.max': round(Math.max(...results.map((r) => r.stallMs[0]!)), 0),
          loadAverage: round(loadavg()[0]!, 1),
        },
        targets: [
          { metric: 'peakRssMiB.median', max: 512 },
          { metric: 'passMs.median', max: 200 },
          { metric: 'stallMs.max', max: 50 },
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
