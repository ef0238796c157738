/**
 * The API while the control loop's passes run (issue 15): a real `spillway serve` over a store of 10,000 registered
 * agents running 300,000 tasks plus 1,000 pending tasks no agent holds and no provider launches for, so every pass
 * weighs the whole pool. While the loop runs, one client asks `GET /healthz` back to back and another pages through
 * `GET /v1/agents?limit=100` (following `next`, starting over at the end); the figures are their p99 latencies.
 * Target: both at most 50 ms. Also reported: `GET /v1/status` (it summarizes: counts, not agents) and serve's peak RSS.
 *
 * The figures are of steady-state passes: they are measured from the moment serve leads (`/healthz` says `leader`,
 * which the controller sets once its model is loaded). The load before it is measured on its own: how long it took
 * from the first answer of `/healthz` (`modelLoadS`) and `/healthz`'s p99 and max while it ran (`load.healthz.*`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { resources } from '../src/core/resources.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { fillPool } from './lib/big-pool.ts';
import { loop, startServe } from './lib/serve-process.ts';

const TASKS_PER_AGENT = 30;
const PENDING = 1_000;

export const benchmark: Benchmark = {
  name: 'api-during-pass',
  description: 'healthz and paged agent-list p99 while passes run over 10,000 agents and 300,000 running tasks',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const agents = ctx.quick ? 2_000 : 10_000;
    const measureMs = ctx.quick ? 10_000 : 30_000;
    const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-during-'));
    const dbPath = join(dir, 'spillway.db');
    const home = join(dir, 'home');
    try {
      const fillStarted = performance.now();
      fill(dbPath, agents);
      ctx.log(
        `  filled ${agents} agents, ${agents * TASKS_PER_AGENT} running and ${PENDING} pending tasks in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`,
      );
      const profDir = process.env['SPILLWAY_BENCH_CPU_PROF'];
      const serve = await startServe(
        dir,
        {
          clusterId: 'bench',
          home,
          store: { path: dbPath },
          pool: { heartbeatIntervalMs: 1_000, lostAfterMs: 3_600_000 },
          controller: { passIntervalMs: 1_000, reconcileEveryPasses: 10, leaseTtlMs: 60_000, unavailableForMs: 30_000 },
          providers: [],
          log: { level: 'warn' },
        },
        // SPILLWAY_BENCH_CPU_PROF=<dir>: serve writes a V8 CPU profile there when it stops (`--cpu-prof`).
        { log: ctx.log, ...(profDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}) },
      );
      try {
        const auth = { authorization: `Bearer ${serve.token}` };
        // The model's load: /healthz back to back until serve leads.
        const loadStarted = performance.now();
        let leading = false;
        const duringLoad = await loop(loadStarted + 600_000, async () => {
          const res = await fetch(`${serve.url}/healthz`);
          const body = (await res.json()) as { leader?: boolean };
          if (!res.ok) throw new Error(`healthz answered ${res.status}`);
          leading = body.leader === true;
        }, () => leading);
        if (!leading) throw new Error('serve did not lead within 10 minutes');
        const modelLoadS = (performance.now() - loadStarted) / 1000;
        ctx.log(
          `  serve led after ${modelLoadS.toFixed(1)} s more: ${duringLoad.length} healthz meanwhile ` +
            `(p99 ${quantile(duringLoad, 0.99).toFixed(1)} ms, max ${Math.max(...duringLoad).toFixed(0)} ms)`,
        );
        const until = performance.now() + measureMs;
        let cursor: string | null = null;
        let pages = 0;
        const [health, list, status] = await Promise.all([
          loop(until, async () => {
            const res = await fetch(`${serve.url}/healthz`);
            await res.arrayBuffer();
            if (!res.ok) throw new Error(`healthz answered ${res.status}`);
          }),
          loop(until, async () => {
            const page = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
            const res = await fetch(`${serve.url}/v1/agents?limit=100${page}`, { headers: auth });
            const body = (await res.json()) as { agents?: unknown[]; next?: string | null };
            if (!res.ok || body.agents?.length !== 100) throw new Error(`agent list answered ${res.status}`);
            cursor = body.next ?? null;
            pages++;
          }),
          // Status now and then, as a console would poll it.
          loop(until, async () => {
            const res = await fetch(`${serve.url}/v1/status`, { headers: auth });
            await res.arrayBuffer();
            if (!res.ok) throw new Error(`status answered ${res.status}`);
            await new Promise((resolve) => setTimeout(resolve, 500));
          }),
        ]);
        const statusMs = status.map((ms) => ms - 500);
        const peakRssMiB = serve.peakRssMiB();
        ctx.log(
          `  ${health.length} healthz (p50 ${quantile(health, 0.5).toFixed(1)} ms, max ${Math.max(...health).toFixed(0)} ms), ` +
            `${pages} agent pages (p50 ${quantile(list, 0.5).toFixed(1)} ms, max ${Math.max(...list).toFixed(0)} ms), ` +
            `${status.length} status (p50 ${quantile(statusMs, 0.5).toFixed(1)} ms), peak RSS ${peakRssMiB.toFixed(0)} MiB`,
        );
        return {
          metrics: {
            agents,
            runningTasks: agents * TASKS_PER_AGENT,
            pendingTasks: PENDING,
            'healthz.p99Ms': round(quantile(health, 0.99), 1),
            'agentsPage.p99Ms': round(quantile(list, 0.99), 1),
            'healthz.maxMs': round(Math.max(...health), 1),
            'agentsPage.maxMs': round(Math.max(...list), 1),
            'status.p50Ms': round(quantile(statusMs, 0.5), 1),
            'status.p99Ms': round(quantile(statusMs, 0.99), 1),
            requests: health.length + list.length + status.length,
            peakRssMiB: round(peakRssMiB, 0),
            modelLoadS: round(modelLoadS, 1),
            'load.healthz.p99Ms': round(quantile(duringLoad, 0.99), 1),
            'load.healthz.maxMs': round(Math.max(...duringLoad), 1),
          },
          targets: [
            { metric: 'healthz.p99Ms', max: 50 },
            { metric: 'agentsPage.p99Ms', max: 50 },
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

/** The store serve will open: its cluster id, the full pool and the pending tasks, written before it starts. */
function fill(dbPath: string, agents: number): void {
  const store = openSqliteStore(dbPath);
  try {
    store.meta.bindClusterId('bench');
    const now = Date.now();
    fillPool(store, { agents, tasksPerAgent: TASKS_PER_AGENT, cpusPerAgent: TASKS_PER_AGENT, nowMs: now });
    store.tasks.insert(
      Array.from({ length: PENDING }, (_, i) => ({
        owner: { team: `team-${i % 20}`, project: `p-${i % 7}`, job: 'j' },
        // Bigger than any agent, and no provider: they stay pending through every pass.
        resources: resources({ cpuMillis: 64_000, memoryMiB: 1_024 }),
        priority: i % 5,
        revocable: false,
        constraints: {},
        command: ['python', 'train.py', `--shard=${i}`],
      })),
      now,
    );
  } finally {
    store.close();
  }
}
