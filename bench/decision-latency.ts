/**
 * Decision latency (issue 15): in a pool of 10,000 agents running 300,000 tasks (every agent full), the wall time
 * from a submission to the controller's decision for it. Two kinds of trial alternate:
 * - launch: 200 one-CPU tasks no agent can hold; the decision is the first launch request arriving at the provider;
 * - place: a running task ends (room frees on one agent) and one task that fits is submitted; the decision is the
 *   pool placing it.
 * The real controller loop runs on the system clock (a pass every 1 s at the latest, woken by each change as the API
 * wakes it), a SQLite file store (WAL, synchronous commits) and a simulated provider offering the bundled catalog's
 * two regions. The policy's grace period is 0, so a submission is due at once. Each trial starts at a random phase of
 * the loop; p50 and p99 over all trials. Target (issue 15): p99 at most 400 ms.
 * Anchor: Cluster Autoscaler averages about 15 s and allows up to 60 s at 1,000 nodes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller } from '../src/autoscaler/controller.ts';
import { systemClock } from '../src/core/clock.ts';
import type { Instance } from '../src/core/instance.ts';
import { PRODUCTION_POLICY } from '../src/core/policy.ts';
import { seededRandom } from '../src/core/random.ts';
import { silentLogger } from '../src/log/logger.ts';
import { BuiltinPool } from '../src/pool/builtin/builtin-pool.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../src/providers/provider.ts';
import type { SimProvider } from '../src/sim/sim-provider.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { asyncSqliteStore } from '../src/store/sqlite/async-sqlite-store.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { BENCH_IDENTITY, benchSimProviders, burstTasks, fillPool } from './lib/big-pool.ts';

const BURST = 200;
const TASKS_PER_AGENT = 30;

/** The simulated cloud, noting when each launch request arrives. */
class TimedProvider implements CloudProvider {
  readonly id: string;
  readonly kind: string;
  readonly #inner: SimProvider;
  readonly launchesAtMs: number[] = [];

  constructor(inner: SimProvider) {
    this.#inner = inner;
    this.id = inner.id;
    this.kind = inner.kind;
  }
  offerings(opts?: CallOptions) {
    return this.#inner.offerings(opts);
  }
  launch(request: LaunchRequest, opts?: CallOptions): Promise<Instance[]> {
    this.launchesAtMs.push(Date.now());
    return this.#inner.launch(request, opts);
  }
  terminate(ids: readonly string[], opts?: CallOptions) {
    return this.#inner.terminate(ids, opts);
  }
  list(clusterId: string, opts?: CallOptions) {
    return this.#inner.list(clusterId, opts);
  }
}

export const benchmark: Benchmark = {
  name: 'decision-latency',
  description: 'submission to decision (launch request or placement), 10,000 agents and 300,000 running tasks, real loop',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const agents = ctx.quick ? 1_000 : 10_000;
    const trials = ctx.quick ? 6 : 20;
    const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-latency-'));
    const store = openSqliteStore(join(dir, 'spillway.db'));
    const logger = silentLogger();
    const random = seededRandom(ctx.seed);
    const providers = benchSimProviders(systemClock, random).map((p) => new TimedProvider(p));
    const asyncStore = asyncSqliteStore(store);
    const pool = new BuiltinPool({ store: asyncStore, logger, lostAfterMs: 3_600_000 });
    // The moment the pool placed each task (the placement decision), read off the pool the controller uses.
    const placedAtMs = new Map<string, number>();
    const place = pool.place.bind(pool);
    pool.place = async (nowMs, allowCloud) => {
      const placements = await place(nowMs, allowCloud);
      const at = Date.now();
      for (const p of placements) placedAtMs.set(p.taskId, at);
      return placements;
    };
    const controller = new Controller({
      store: asyncStore,
      pool,
      providers,
      clock: systemClock,
      logger,
      settings: { passIntervalMs: 1_000, reconcileEveryPasses: 10, leaseTtlMs: 60_000, unavailableForMs: 180_000 },
      identity: BENCH_IDENTITY,
    });
    const passMs: number[] = [];
    try {
      store.meta.bindClusterId('bench');
      store.policy.seed({ ...PRODUCTION_POLICY, pendingGraceMs: 0 }, Date.now());
      const fillStarted = performance.now();
      fillPool(store, { agents, tasksPerAgent: TASKS_PER_AGENT, cpusPerAgent: TASKS_PER_AGENT, nowMs: Date.now() });
      ctx.log(`  filled ${agents} agents and ${agents * TASKS_PER_AGENT} running tasks in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`);
      const agentIds = store.agents.list({ states: ['registered'] }).map((a) => a.id);
      // Times each pass of the loop (the loop calls runPass on the instance).
      const timed = controller.runPass.bind(controller);
      controller.runPass = async () => {
        const started = performance.now();
        try {
          return await timed();
        } finally {
          passMs.push(performance.now() - started);
        }
      };
      controller.start();
      while (passMs.length < 2) await sleep(50);
      const latencies: { kind: 'launch' | 'place'; ms: number }[] = [];
      for (let trial = 0; trial < trials; trial++) {
        await sleep(Math.floor(random() * 1_000));
        const kind = trial % 2 === 0 ? 'launch' : 'place';
        let latency: number;
        if (kind === 'launch') {
          const before = providers.reduce((n, p) => n + p.launchesAtMs.length, 0);
          const submittedAtMs = Date.now();
          const burst = store.tasks.insert(burstTasks(BURST, `trial-${trial}`), submittedAtMs);
          controller.wake();
          const deadline = Date.now() + 60_000;
          while (providers.reduce((n, p) => n + p.launchesAtMs.length, 0) === before && Date.now() < deadline)
            await sleep(2);
          const first = Math.min(...providers.flatMap((p) => p.launchesAtMs.filter((t) => t >= submittedAtMs)));
          latency = first - submittedAtMs;
          // Clean up for the next trial: the burst goes, and so do the instances launched for it.
          await controller.settle();
          for (const task of burst) store.tasks.cancel(task.id, 'bench trial over', Date.now());
          for (const agent of store.agents.list({ states: ['provisioning'] })) {
            store.agents.setState(agent.id, 'terminated', 'bench trial over', Date.now());
          }
          for (const p of providers) await p.terminate((await p.list('bench')).map((i) => i.id));
        } else {
          // A task ends on a random agent (its exit report wakes the loop), and one that fits is submitted.
          const agentId = agentIds[Math.floor(random() * agentIds.length)]!;
          const [ending] = store.tasks.list({ agentId, states: ['running'] });
          const submittedAtMs = Date.now();
          store.tasks.cancel(ending!.id, 'bench: the task ended', submittedAtMs);
          controller.wake();
          const [task] = store.tasks.insert(burstTasks(1, `trial-${trial}`), submittedAtMs);
          controller.wake();
          const deadline = Date.now() + 60_000;
          while (!placedAtMs.has(task!.id) && Date.now() < deadline) await sleep(2);
          latency = (placedAtMs.get(task!.id) ?? Infinity) - submittedAtMs;
        }
        latencies.push({ kind, ms: latency });
        ctx.log(`  trial ${trial + 1} (${kind}): decided ${latency} ms after the submission`);
      }
      const all = latencies.map((l) => l.ms);
      const of = (kind: string) => latencies.filter((l) => l.kind === kind).map((l) => l.ms);
      return {
        metrics: {
          agents,
          runningTasks: agents * TASKS_PER_AGENT,
          trials,
          'latencyMs.p50': round(quantile(all, 0.5), 0),
          'latencyMs.p99': round(quantile(all, 0.99), 0),
          'launch.p99Ms': round(quantile(of('launch'), 0.99), 0),
          'place.p99Ms': round(quantile(of('place'), 0.99), 0),
          'passMs.median': round(quantile(passMs, 0.5), 1),
          passes: passMs.length,
        },
        targets: [{ metric: 'latencyMs.p99', max: 400 }],
        details: { latencies },
      };
    } finally {
      await controller.stop();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
