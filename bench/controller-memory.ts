/**
 * Controller memory: a store holding 50,000 agents, each running 4 tasks (200,000 tasks), plus 1,000 pending ones;
 * the real controller opens it (SQLite file, as in production) and runs 4 passes, planning launches for the
 * pending tasks. Each measurement is a child process of its own on a fresh copy of the filled store; the figure is
 * the median of 3 of its peak resident memory. Target: under 1 GiB.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { runChild } from './lib/child.ts';

interface Measured {
  readonly agents: number;
  readonly tasks: number;
  readonly passMs: readonly number[];
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

export const benchmark: Benchmark = {
  name: 'controller-memory',
  description: 'peak resident memory of the controller over a store of 50,000 agents and 200,000 tasks',
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
        const r = await runChild<Measured>('./memory-child.ts', ['measure', db, 4]);
        ctx.log(
          `  run ${run + 1}: peak RSS ${r.peakRssMiB.toFixed(0)} MiB, after ${r.rssMiB.toFixed(0)} MiB; ` +
            `passes ${r.passMs.map((ms) => ms.toFixed(0)).join(', ')} ms`,
        );
        results.push(r);
        rmSync(db, { force: true });
      }
      return {
        metrics: {
          agents: results[0]!.agents,
          tasks: results[0]!.tasks,
          'peakRssMiB.median': round(
            quantile(
              results.map((r) => r.peakRssMiB),
              0.5,
            ),
            0,
          ),
          'passMs.median': round(
            quantile(
              results.flatMap((r) => r.passMs.slice(1)),
              0.5,
            ),
            0,
          ),
        },
        targets: [{ metric: 'peakRssMiB.median', max: 1_024 }],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
