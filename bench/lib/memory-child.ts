/**
 * Child processes of the controller-memory benchmark.
 *
 *   node bench/lib/memory-child.ts fill <db> <agents> <tasksPerAgent>
 *     records `agents` agents each running `tasksPerAgent` tasks in a new SQLite store at <db>; prints its time.
 *   node bench/lib/memory-child.ts measure <db> <passes>
 *     opens that store as a controller does and runs `passes` passes of the real controller (observe, place, plan
 *     with 1,000 pending tasks, act, scale down, reconcile every other pass); prints the process's peak and final
 *     resident memory, each pass's wall and CPU time and the event loop's longest delay during it. The store is filled
 *     elsewhere, so the peak is the controller's.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { resourceUsage } from 'node:process';
import { setTimeout } from 'node:timers/promises';
import { Controller } from '../../src/autoscaler/controller.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { PRODUCTION_POLICY } from '../../src/core/policy.ts';
import { seededRandom } from '../../src/core/random.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { ClusterModel } from '../../src/model/cluster-model.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { BENCH_IDENTITY, benchSimProviders, burstTasks, fillPool } from './big-pool.ts';

const START_MS = Date.UTC(2026, 0, 1);
const [mode, db, ...rest] = process.argv.slice(2);
const store = openSqliteStore(db!);
try {
  if (mode === 'fill') {
    const [agents, tasksPerAgent] = rest.map(Number) as [number, number];
    const started = performance.now();
    store.meta.bindClusterId('bench');
    store.policy.seed({ ...PRODUCTION_POLICY, pendingGraceMs: 0 }, START_MS);
    fillPool(store, { agents, tasksPerAgent, cpusPerAgent: tasksPerAgent, nowMs: START_MS });
    process.stdout.write(`${JSON.stringify({ fillS: (performance.now() - started) / 1000 })}\n`);
  } else {
    const passes = Number(rest[0]);
    const clock = new ManualClock(START_MS + 1_000);
    const logger = silentLogger();
    const random = seededRandom(1);
    const controller = new Controller({
      store: asyncSqliteStore(store),
      pool: new BuiltinPool({ store: asyncSqliteStore(store), logger, lostAfterMs: 3_600_000 }),
      providers: benchSimProviders(clock, random),
      clock,
      logger,
      settings: { passIntervalMs: 1_000, reconcileEveryPasses: 2, leaseTtlMs: 15_000, unavailableForMs: 180_000 },
      identity: BENCH_IDENTITY,
    });
    store.tasks.insert(burstTasks(1_000, 'burst'), clock.now());
    const passMs: number[] = [];
    const passCpuMs: number[] = [];
    const stalls: number[] = [];
    for (let i = 0; i < passes; i++) {
      clock.advance(1_000);
      // The longest the event loop waited during the pass: what an API request on this process would have waited.
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      // Its first timer run only starts the clock: let it run before the pass, so a stall at the pass's start counts.
      await setTimeout(20);
      const started = performance.now();
      const cpu = process.cpuUsage();
      await controller.runPass();
      await controller.settle();
      passMs.push(performance.now() - started);
      // The process's own CPU time: on a shared machine, less dependent on the others' load than wall time.
      const used = process.cpuUsage(cpu);
      passCpuMs.push((used.user + used.system) / 1000);
      // The histogram samples when its timer runs late: let it run once after the pass.
      await setTimeout(20);
      delay.disable();
      stalls.push(delay.max / 1e6);
    }
    const counts = store.tasks.countByState();
    process.stdout.write(
      `${JSON.stringify({
        // From the controller's model: listing 50,000 agents again here would add its own peak.
        agents: ClusterModel.of(asyncSqliteStore(store)).agents(['registered']).length,
        tasks: counts.running + counts.pending,
        passMs,
        passCpuMs,
        stallMs: stalls,
        rssMiB: process.memoryUsage().rss / 2 ** 20,
        peakRssMiB: resourceUsage().maxRSS / 1024,
      })}\n`,
    );
  }
} finally {
  store.close();
}
