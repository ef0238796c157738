/**
 * A child process of the planner-throughput benchmark: plans `n` pending trace tasks `runs` times over the bench
 * offerings and prints one JSON line: each plan's wall time and CPU time (user and system, of every thread: the
 * collector's helpers count), the instances launched, and the process's peak resident memory (so each size's peak is
 * its own, not the largest seen so far in one process). On a shared machine the CPU time says what the wall time
 * cannot: how much work the plan was, whatever else ran.
 *
 *   node bench/lib/plan-child.ts <n> <seed> <runs>
 */
import { performance } from 'node:perf_hooks';
import { cpuUsage, resourceUsage } from 'node:process';
import { plan } from '../../src/autoscaler/planner.ts';
import { PRODUCTION_POLICY, type Policy } from '../../src/core/policy.ts';
import type { Task } from '../../src/core/task.ts';
import { benchOfferings } from './catalog-offerings.ts';
import { drawWorkloads } from './workloads.ts';

const POLICY: Policy = {
  ...PRODUCTION_POLICY,
  pendingGraceMs: 0,
  limits: { maxInstances: 10_000_000, maxVcpus: 1_000_000_000, maxGpus: 10_000_000 },
};

/** `n` tasks: whole trace windows (KTH, Alibaba, mixed) concatenated until there are enough. */
async function manyTasks(n: number, seed: number): Promise<Task[]> {
  const tasks: Task[] = [];
  for (const w of await drawWorkloads(Math.ceil(n / 500) + 3, seed, { minTasks: 400, maxTasks: 600 }))
    tasks.push(...w.tasks);
  return tasks.slice(0, n);
}

const [n, seed, runs] = process.argv.slice(2).map(Number) as [number, number, number];
const offerings = benchOfferings();
const pending = await manyTasks(n, seed);
const rssBeforeMiB = process.memoryUsage().rss / 2 ** 20;
const times: number[] = [];
const cpuTimes: number[] = [];
let instances = 0;
for (let run = 0; run < runs; run++) {
  const cpu = cpuUsage();
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
  const used = cpuUsage(cpu);
  cpuTimes.push((used.user + used.system) / 1000);
  instances = result.launches.reduce((s, l) => s + l.count, 0);
}
process.stdout.write(
  `${JSON.stringify({ n: pending.length, offerings: offerings.length, times, cpuTimes, instances, rssBeforeMiB, peakRssMiB: resourceUsage().maxRSS / 1024 })}\n`,
);
