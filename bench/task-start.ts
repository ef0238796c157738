/**
 * Task start: at the agent, from a pulled task to its process running (the command's first instruction after exec),
 * over 200 tasks each with isolation on (cgroup v1 or v2: uid lease, 0700 folder, cgroup with limits, gated start)
 * and off (`none`: a plain spawn in its own process group), in one run. The command is `/bin/echo`: its first
 * output byte marks it running. Median and p95 per mode. Target: under 30 ms with isolation, at most 1.5x without.
 * Needs root for the isolated half (it is skipped otherwise, and says so).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CgroupIsolation } from '../src/agent/isolation/cgroup-isolation.ts';
import { CgroupV1Driver } from '../src/agent/isolation/cgroup-v1.ts';
import { CgroupV2Driver } from '../src/agent/isolation/cgroup-v2.ts';
import type { Isolation } from '../src/agent/isolation/isolation.ts';
import { NoIsolation } from '../src/agent/isolation/no-isolation.ts';
import { startTask } from '../src/agent/task-runner.ts';
import { resources } from '../src/core/resources.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';

const TASKS = 200;

/** How long one task takes from `prepare` to its command's first output byte, in ms. */
async function startLatency(isolation: Isolation, i: number): Promise<number> {
  const t0 = performance.now();
  const sandbox = isolation.prepare({
    taskId: `bench-${i}`,
    resources: resources({ cpuMillis: 1_000, memoryMiB: 256 }),
    env: {},
    gpuIndexes: [],
  });
  const task = startTask({ taskId: `bench-${i}`, command: ['/bin/echo', 'running'], outputTailBytes: 1_024, sandbox });
  // The first byte of output: the command runs. Polled on every turn of the event loop.
  while (task.outputVersion === 0 && !task.finished) await new Promise((resolve) => setImmediate(resolve));
  const ms = performance.now() - t0;
  await task.done;
  return ms;
}

/** Tasks of the modes alternate, so a shared machine's changing load weighs on both alike. */
async function startLatencies(modes: readonly Isolation[], count: number): Promise<number[][]> {
  const latencies = modes.map((): number[] => []);
  for (let i = 0; i < count; i++) {
    for (const [m, isolation] of modes.entries()) latencies[m]!.push(await startLatency(isolation, i));
  }
  return latencies;
}

export const benchmark: Benchmark = {
  name: 'task-start',
  description: 'pulled task to running process at the agent, isolation on vs off, median and p95 over 200 tasks',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const count = ctx.quick ? 40 : TASKS;
    const off = new NoIsolation({ PATH: '/usr/bin:/bin' });
    const driver = process.getuid?.() === 0 ? (CgroupV2Driver.detect() ?? CgroupV1Driver.detect()) : undefined;
    if (!driver) {
      ctx.log('task-start: not root or no cgroup hierarchy: the isolated half is skipped');
      const [none] = await startLatencies([off], count);
      return {
        metrics: { 'none.p50Ms': round(quantile(none!, 0.5), 2), 'none.p95Ms': round(quantile(none!, 0.95), 2), isolated: 'skipped (not root)' },
      };
    }
    const metrics: Record<string, number | string> = {};
    const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-'));
    const isolation = new CgroupIsolation({
      driver,
      uids: { first: 64_500, last: 64_999 },
      pidsLimit: 4_096,
      folderRoot: join(dir, 'tasks'),
      keepFolderMs: 0,
      leaseDir: join(dir, 'leases'),
    });
    try {
      const [none, isolated] = (await startLatencies([off, isolation], count)) as [number[], number[]];
      const p50 = quantile(isolated, 0.5);
      Object.assign(metrics, {
        'none.p50Ms': round(quantile(none, 0.5), 2),
        'none.p95Ms': round(quantile(none, 0.95), 2),
        mode: driver.mode,
        'isolated.p50Ms': round(p50, 2),
        'isolated.p95Ms': round(quantile(isolated, 0.95), 2),
        'isolated/none.p50': round(p50 / quantile(none, 0.5), 2),
      });
    } finally {
      isolation.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return {
      metrics,
      targets: [
        { metric: 'isolated.p50Ms', max: 30 },
        { metric: 'isolated/none.p50', max: 1.5 },
      ],
      details: { tasks: count },
    };
  },
};
