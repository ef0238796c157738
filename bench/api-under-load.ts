/**
 * The API under load (issue 13): a real `spillway serve` over a store of 100,000 pending tasks (300 of them carrying
 * 60 KiB commands) and 1,000 registered private agents too small for any of them, so every pass of the running control
 * loop weighs all 100,000. While it runs, one client asks `GET /healthz` and another `GET /v1/tasks?limit=100` back to
 * back; the figures are their p99 latencies and serve's peak resident memory (VmHWM). Targets: 100 ms, 250 ms and
 * 1 GiB. Scale to tens of thousands of agents is the incremental controller's issue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { resources } from '../src/core/resources.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { NewTask } from '../src/store/store.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { loop, startServe } from './lib/serve-process.ts';

export const benchmark: Benchmark = {
  name: 'api-under-load',
  description: 'healthz and task-list p99 and serve peak RSS over 100,000 pending tasks, 1,000 agents, loop running',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const tasks = ctx.quick ? 20_000 : 100_000;
    const bigTasks = 300;
    const agents = 1_000;
    const measureMs = ctx.quick ? 10_000 : 30_000;
    const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-api-'));
    const dbPath = join(dir, 'spillway.db');
    const home = join(dir, 'home');
    try {
      const fillStarted = performance.now();
      fill(dbPath, tasks, bigTasks, agents);
      ctx.log(
        `  filled ${tasks} pending tasks (${bigTasks} with 60 KiB commands) and ${agents} agents in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`,
      );
      // SPILLWAY_BENCH_CPU_PROF=<dir>: serve writes a V8 CPU profile there when it stops (`--cpu-prof`).
      const profDir = process.env['SPILLWAY_BENCH_CPU_PROF'];
      // SPILLWAY_BENCH_SERVE_ARGS: more node arguments for serve, space-separated (for example `--import=probe.mjs`).
      const extraArgs = (process.env['SPILLWAY_BENCH_SERVE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
      const nodeArgs = [...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...extraArgs];
      const serve = await startServe(
        dir,
        {
          clusterId: 'bench',
          home,
          store: { path: dbPath },
          pool: { heartbeatIntervalMs: 1_000, lostAfterMs: 3_600_000 },
          controller: { passIntervalMs: 1_000, reconcileEveryPasses: 5, leaseTtlMs: 10_000, unavailableForMs: 30_000 },
          providers: [
            {
              kind: 'local',
              name: 'cloud',
              bootDelayMs: 300,
              offerings: [{ instanceType: 'local.small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.0832 }],
            },
          ],
          policy: { pendingGraceMs: 1_000, limits: { maxInstances: 0, maxVcpus: 0, maxGpus: 0 } },
          log: { level: 'warn' },
        },
        { log: ctx.log, nodeArgs },
      );
      try {
        const { url, token } = serve;
        const until = performance.now() + measureMs;
        const [health, list] = await Promise.all([
          loop(until, async () => {
            const res = await fetch(`${url}/healthz`);
            await res.arrayBuffer();
            if (!res.ok) throw new Error(`healthz answered ${res.status}`);
          }),
          loop(until, async () => {
            const res = await fetch(`${url}/v1/tasks?limit=100`, { headers: { authorization: `Bearer ${token}` } });
            const body = (await res.json()) as { tasks?: unknown[] };
            if (!res.ok || body.tasks?.length !== 100) throw new Error(`task list answered ${res.status}`);
          }),
        ]);
        // Then a few seconds of the listing issue 13 saw fail: one state, 100,000 tasks in it.
        const pendingUntil = performance.now() + (ctx.quick ? 3_000 : 10_000);
        const pendingList = await loop(pendingUntil, async () => {
          const res = await fetch(`${url}/v1/tasks?state=pending&limit=100`, { headers: { authorization: `Bearer ${token}` } });
          const body = (await res.json()) as { tasks?: unknown[] };
          if (!res.ok || body.tasks?.length !== 100) throw new Error(`pending task list answered ${res.status}`);
        });
        const peakRssMiB = serve.peakRssMiB();
        ctx.log(
          `  ${health.length} healthz (p50 ${quantile(health, 0.5).toFixed(1)} ms, max ${Math.max(...health).toFixed(0)} ms), ` +
            `${list.length} task lists (p50 ${quantile(list, 0.5).toFixed(1)} ms, max ${Math.max(...list).toFixed(0)} ms), ` +
            `${pendingList.length} pending-task lists (p50 ${quantile(pendingList, 0.5).toFixed(1)} ms), peak RSS ${peakRssMiB.toFixed(0)} MiB, ` +
            `load average ${loadavg()[0]!.toFixed(1)}`,
        );
        return {
          metrics: {
            pendingTasks: tasks,
            agents,
            'healthz.p99Ms': round(quantile(health, 0.99), 1),
            'tasksList.p99Ms': round(quantile(list, 0.99), 1),
            'healthz.maxMs': round(Math.max(...health), 1),
            'tasksList.maxMs': round(Math.max(...list), 1),
            'pendingList.p50Ms': round(quantile(pendingList, 0.5), 1),
            'pendingList.p99Ms': round(quantile(pendingList, 0.99), 1),
            requests: health.length + list.length + pendingList.length,
            peakRssMiB: round(peakRssMiB, 0),
            // Other work on the machine moves the latencies (the controller-memory benchmark reports it too).
            loadAverage: round(loadavg()[0]!, 1),
          },
          targets: [
            { metric: 'healthz.p99Ms', max: 100 },
            { metric: 'tasksList.p99Ms', max: 250 },
            { metric: 'peakRssMiB', max: 1_024 },
          ],
        };
      } finally {
        await serve.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** The store serve will open: its cluster id, the agents and the pending tasks, written before it starts. */
function fill(dbPath: string, tasks: number, bigTasks: number, agents: number): void {
  const store = openSqliteStore(dbPath);
  try {
    store.meta.bindClusterId('bench');
    const now = Date.now();
    store.transaction(() => {
      for (let i = 0; i < agents; i++) {
        store.agents.insert(
          {
            name: `private-${i}`,
            location: { kind: 'private', site: 'lab' },
            // Smaller than every task: nothing is placed, so every pass weighs all of them.
            capacity: resources({ cpuMillis: 500, memoryMiB: 512 }),
            labels: {},
            lifecycle: 'private',
            pricePerHourMicros: 0,
            state: 'registered',
            instanceId: null,
            providerId: null,
            intentId: null,
          },
          now,
        );
      }
    });
    const big = ['sh', '-c', 'x'.repeat(60 * 1024 - 8)];
    const batch = 1_000;
    for (let start = 0; start < tasks; start += batch) {
      const chunk: NewTask[] = [];
      for (let i = start; i < Math.min(tasks, start + batch); i++) {
        chunk.push({
          owner: { team: `team-${i % 20}`, project: `p-${i % 7}`, job: 'j' },
          resources: resources({ cpuMillis: 1_000 + (i % 4) * 1_000, memoryMiB: 1_024 * (1 + (i % 3)) }),
          priority: i % 5,
          revocable: i % 2 === 0,
          constraints: {},
          command: i < bigTasks ? big : ['python', 'train.py', `--shard=${i}`],
        });
      }
      store.tasks.insert(chunk, now);
    }
  } finally {
    store.close();
  }
}
