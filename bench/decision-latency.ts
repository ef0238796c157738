/**
 * Decision latency (issue 15): in a pool of 10,000 agents running 300,000 tasks (every agent full), the wall time
 * from a submission to the controller's decision for it. Two kinds of trial alternate:
 * - launch: 200 one-CPU tasks no agent can hold; the decision is the first launch request arriving at the provider;
 * - place: a running task ends (room frees on one agent) and one task that fits is submitted; the decision is the
 *   pool placing it.
 * The real controller loop runs on the system clock (a pass every 1 s at the latest, woken by each change as the API
 * wakes it), a store (a SQLite file, WAL, synchronous commits; or PostgreSQL) and a simulated provider offering the
 * bundled catalog's two regions. The policy's grace period is 0, so a submission is due at once. Each trial starts at a random phase of
 * the loop; p50 and p99 over all trials. Target (issue 15): p99 at most 400 ms.
 * Then (issue 17) the same trials at 1,000 agents on SQLite and on PostgreSQL, one after the other in the same run,
 * the same figures for each. The PostgreSQL server is a throwaway one the bench starts and stops (the tests' harness,
 * test/helpers/postgres-server.ts): fsync off, which flatters PostgreSQL against SQLite's synchronous commits.
 * The controller is wired as `serve` wires it: its writes go through a fenced view under its lease tenure.
 * Anchor: Cluster Autoscaler averages about 15 s and allows up to 60 s at 1,000 nodes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTROLLER_LEASE, Controller } from '../src/autoscaler/controller.ts';
import { systemClock } from '../src/core/clock.ts';
import type { Instance } from '../src/core/instance.ts';
import { PRODUCTION_POLICY } from '../src/core/policy.ts';
import { seededRandom } from '../src/core/random.ts';
import { silentLogger } from '../src/log/logger.ts';
import { BuiltinPool } from '../src/pool/builtin/builtin-pool.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../src/providers/provider.ts';
import type { SimProvider } from '../src/sim/sim-provider.ts';
import { LeaseTenure, fencedStore } from '../src/store/fenced-store.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';
import { BENCH_IDENTITY, benchSimProviders, burstTasks } from './lib/big-pool.ts';
import { openBenchStore, type BenchEngine, type StoreEvidence } from './lib/bench-store.ts';

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

/** What one engine's run measured. */
export interface LatencyRun {
  readonly agents: number;
  readonly trials: number;
  readonly latencies: readonly { readonly kind: 'launch' | 'place'; readonly ms: number }[];
  readonly passMs: readonly number[];
  readonly fillSeconds: number;
  /** What the store held at the end, read past the store's code (see StoreEvidence). */
  readonly evidence: StoreEvidence;
  readonly settings: string;
}

/**
 * One run on a fresh store of `engine`: fills `agents` full agents, starts the controller wired as `serve` wires it
 * (its writes through a fenced view of the store under its LeaseTenure, the pool on that view), and runs `trials`
 * trials, submitting through the store's asynchronous port and waking the loop as the API does.
 */
export async function measureLatency(
  engine: BenchEngine,
  opts: { agents: number; trials: number; random: () => number; log: (line: string) => void },
): Promise<LatencyRun> {
  const { agents, trials, random, log } = opts;
  const bench = await openBenchStore(engine);
  const store = bench.store;
  const logger = silentLogger();
  const providers = benchSimProviders(systemClock, random).map((p) => new TimedProvider(p));
  const tenure = new LeaseTenure(CONTROLLER_LEASE);
  const leaderStore = fencedStore(store, tenure, systemClock);
  // The bench's agents are simulated (nothing reports isolation), so placement ignores requireIsolation.
  const pool = new BuiltinPool({ store: leaderStore, logger, lostAfterMs: 3_600_000 });
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
    store: leaderStore,
    tenure,
    pool,
    providers,
    clock: systemClock,
    logger,
    settings: { passIntervalMs: 1_000, reconcileEveryPasses: 10, leaseTtlMs: 60_000, unavailableForMs: 180_000 },
    identity: BENCH_IDENTITY,
  });
  const passMs: number[] = [];
  try {
    await store.meta.bindClusterId('bench');
    await store.policy.seed({ ...PRODUCTION_POLICY, pendingGraceMs: 0 }, Date.now());
    const fillStarted = performance.now();
    await bench.fill({ agents, tasksPerAgent: TASKS_PER_AGENT, cpusPerAgent: TASKS_PER_AGENT, nowMs: Date.now() });
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    log(`  ${engine}: filled ${agents} agents and ${agents * TASKS_PER_AGENT} running tasks in ${fillSeconds.toFixed(1)} s`);
    const agentIds = (await store.agents.list({ states: ['registered'] })).map((a) => a.id);
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
        const burst = await store.tasks.insert(burstTasks(BURST, `trial-${trial}`), submittedAtMs);
        controller.wake();
        const deadline = Date.now() + 60_000;
        while (providers.reduce((n, p) => n + p.launchesAtMs.length, 0) === before && Date.now() < deadline)
          await sleep(2);
        const first = Math.min(...providers.flatMap((p) => p.launchesAtMs.filter((t) => t >= submittedAtMs)));
        latency = first - submittedAtMs;
        // Clean up for the next trial: the burst goes, and so do the instances launched for it.
        await controller.settle();
        for (const task of burst) await store.tasks.cancel(task.id, 'bench trial over', Date.now());
        for (const agent of await store.agents.list({ states: ['provisioning'] })) {
          await store.agents.setState(agent.id, 'terminated', 'bench trial over', Date.now());
        }
        for (const p of providers) await p.terminate((await p.list('bench')).map((i) => i.id));
      } else {
        // A task ends on a random agent (its exit report wakes the loop), and one that fits is submitted.
        const agentId = agentIds[Math.floor(random() * agentIds.length)]!;
        const [ending] = await store.tasks.list({ agentId, states: ['running'] });
        const submittedAtMs = Date.now();
        await store.tasks.cancel(ending!.id, 'bench: the task ended', submittedAtMs);
        controller.wake();
        const [task] = await store.tasks.insert(burstTasks(1, `trial-${trial}`), submittedAtMs);
        controller.wake();
        const deadline = Date.now() + 60_000;
        while (!placedAtMs.has(task!.id) && Date.now() < deadline) await sleep(2);
        latency = (placedAtMs.get(task!.id) ?? Infinity) - submittedAtMs;
      }
      latencies.push({ kind, ms: latency });
      log(`  ${engine}: trial ${trial + 1} (${kind}): decided ${latency} ms after the submission`);
    }
    // Read while the controller still holds its lease.
    const evidence = await bench.evidence();
    return { agents, trials, latencies, passMs, fillSeconds, evidence, settings: bench.settings };
  } finally {
    await controller.stop();
    await bench.close();
  }
}

/** p50/p99 over all trials, each kind's p99, and the median pass, under `prefix`. */
function summarize(run: LatencyRun, prefix: string): Record<string, number> {
  const all = run.latencies.map((l) => l.ms);
  const of = (kind: string) => run.latencies.filter((l) => l.kind === kind).map((l) => l.ms);
  return {
    [`${prefix}latencyMs.p50`]: round(quantile(all, 0.5), 0),
    [`${prefix}latencyMs.p99`]: round(quantile(all, 0.99), 0),
    [`${prefix}launch.p99Ms`]: round(quantile(of('launch'), 0.99), 0),
    [`${prefix}place.p99Ms`]: round(quantile(of('place'), 0.99), 0),
    [`${prefix}passMs.median`]: round(quantile(run.passMs, 0.5), 1),
    [`${prefix}passes`]: run.passMs.length,
  };
}

export const benchmark: Benchmark = {
  name: 'decision-latency',
  description:
    'submission to decision (launch request or placement), 10,000 agents and 300,000 running tasks on SQLite, then 1,000 agents on SQLite and on PostgreSQL, real loop',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const agents = ctx.quick ? 1_000 : 10_000;
    const trials = ctx.quick ? 6 : 20;
    // The engines compare at 1,000 agents even in a quick run (whose main run is that size too).
    const compareAgents = 1_000;
    const random = seededRandom(ctx.seed);
    const main = await measureLatency('sqlite', { agents, trials, random, log: ctx.log });
    // The engines side by side: the same size, the same trials, one after the other in this process.
    const sqlite = await measureLatency('sqlite', { agents: compareAgents, trials, random, log: ctx.log });
    const postgres = await measureLatency('postgres', { agents: compareAgents, trials, random, log: ctx.log });
    return {
      metrics: {
        agents,
        runningTasks: agents * TASKS_PER_AGENT,
        trials,
        ...summarize(main, ''),
        '1k.sqlite.engine': sqlite.evidence.engine,
        ...summarize(sqlite, '1k.sqlite.'),
        '1k.postgres.engine': postgres.evidence.engine.split(' on ')[0]!,
        ...summarize(postgres, '1k.postgres.'),
        '1k.postgres.fillSeconds': round(postgres.fillSeconds, 1),
      },
      targets: [{ metric: 'latencyMs.p99', max: 400 }],
      details: {
        latencies: main.latencies,
        engines: [sqlite, postgres].map((run) => ({
          engine: run.evidence.engine,
          settings: run.settings,
          agents: run.agents,
          runningTasks: run.agents * TASKS_PER_AGENT,
          latencies: run.latencies,
          storeAtEnd: run.evidence,
        })),
      },
    };
  },
};
