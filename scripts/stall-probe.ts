/**
 * Finds the stretches of a controller pass that hold the event loop (issue 15: at most 50 ms each), at the
 * controller-memory benchmark's sizes: a store of `agents` agents each running 4 tasks, 1,000 pending tasks, the real
 * controller and builtin pool on SQLite, `passes` passes.
 *
 *   npx node scripts/stall-probe.ts [--agents 50000] [--passes 5] [--over-ms 8] [--store filled.db]
 *
 * Between two turns of the event loop (a callback re-armed with setImmediate) it measures the wall time and the main
 * thread's CPU time (`process.threadCpuUsage`: on a shared machine the wall time of a stretch is mostly the wait for a
 * core; its CPU time is what the code holds). Every stretch over `--over-ms` of either is printed with the share of
 * the garbage collector and the two call chains (under src/) the CPU profile sampled most in it. `--store` keeps the
 * filled store at that path (filled once, reused by later runs); without it a temporary one is filled and removed.
 * A developer's tool: nothing in the product or the tests runs it.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Controller } from '../src/autoscaler/controller.ts';
import { ManualClock } from '../src/core/clock.ts';
import { PRODUCTION_POLICY } from '../src/core/policy.ts';
import { seededRandom } from '../src/core/random.ts';
import { silentLogger } from '../src/log/logger.ts';
import { BuiltinPool } from '../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { asyncSqliteStore } from '../src/store/sqlite/async-sqlite-store.ts';
import { BENCH_IDENTITY, benchSimProviders, burstTasks, fillPool } from '../bench/lib/big-pool.ts';

const START_MS = Date.UTC(2026, 0, 1);
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '50000' },
    passes: { type: 'string', default: '5' },
    'over-ms': { type: 'string', default: '8' },
    store: { type: 'string' },
  },
});
const agents = Number(values.agents);
const passes = Number(values.passes);
const overMs = Number(values['over-ms']);

interface Stretch {
  readonly startUs: number;
  readonly endUs: number;
  readonly wallMs: number;
  readonly cpuMs: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The monotonic clock the CPU profile's timestamps use, in microseconds. */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const threadCpuMs = (): number => {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};

const dir = mkdtempSync(join(tmpdir(), 'spillway-stall-probe-'));
const filled = values.store ?? join(dir, 'filled.db');
if (!existsSync(filled)) {
  const store = openSqliteStore(filled);
  store.meta.bindClusterId('bench');
  store.policy.seed({ ...PRODUCTION_POLICY, pendingGraceMs: 0 }, START_MS);
  fillPool(store, { agents, tasksPerAgent: 4, cpusPerAgent: 4, nowMs: START_MS });
  store.close();
}
const db = join(dir, 'probe.db');
copyFileSync(filled, db);
const store = openSqliteStore(db);
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 500 });
try {
  const clock = new ManualClock(START_MS + 1_000);
  const logger = silentLogger();
  const controller = new Controller({
    store: asyncSqliteStore(store),
    pool: new BuiltinPool({ store: asyncSqliteStore(store), logger, lostAfterMs: 3_600_000 }),
    providers: benchSimProviders(clock, seededRandom(1)),
    clock,
    logger,
    settings: { passIntervalMs: 1_000, reconcileEveryPasses: 2, leaseTtlMs: 15_000, unavailableForMs: 180_000 },
    identity: BENCH_IDENTITY,
  });
  store.tasks.insert(burstTasks(1_000, 'burst'), clock.now());
  for (let pass = 1; pass <= passes; pass++) {
    clock.advance(1_000);
    await session.post('Profiler.start');
    // Starting the profiler holds the loop itself: not part of the pass.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stretches: Stretch[] = [];
    let turns = 0;
    let running = true;
    let lastUs = nowUs();
    let lastCpuMs = threadCpuMs();
    const tick = (): void => {
      const us = nowUs();
      const cpuMs = threadCpuMs();
      turns++;
      const stretch = { startUs: lastUs, endUs: us, wallMs: (us - lastUs) / 1000, cpuMs: cpuMs - lastCpuMs };
      if (stretch.wallMs > overMs || stretch.cpuMs > overMs) stretches.push(stretch);
      lastUs = us;
      lastCpuMs = cpuMs;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const started = performance.now();
    await controller.runPass();
    await controller.settle();
    const passMs = performance.now() - started;
    running = false;
    await new Promise((resolve) => setImmediate(resolve));
    const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
    const worst = Math.max(0, ...stretches.map((s) => s.cpuMs));
    console.log(
      `pass ${pass}: ${passMs.toFixed(0)} ms, ${turns} turns; ${stretches.length} stretches over ${overMs} ms, ` +
        `the longest ${worst.toFixed(1)} ms of CPU`,
    );
    for (const s of stretches) console.log(`  ${describe(profile, s)}`);
  }
} finally {
  session.disconnect();
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

/** One line: the stretch's wall and CPU time, the collector's share of its samples and its two commonest chains. */
function describe(profile: Profile, s: Stretch): string {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const chains = new Map<string, number>();
  let samples = 0;
  let collector = 0;
  let atUs = profile.startTime;
  profile.samples.forEach((id, k) => {
    atUs += profile.timeDeltas[k]!;
    if (atUs < s.startUs || atUs > s.endUs) return;
    samples++;
    if (nodes.get(id)!.callFrame.functionName === '(garbage collector)') collector++;
    const chain: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = nodes.get(at)!;
      if (node.callFrame.url.includes('/src/')) chain.push(name(node));
    }
    if (chain.length > 0) {
      const key = chain.slice(0, 3).join(' < ');
      chains.set(key, (chains.get(key) ?? 0) + 1);
    }
  });
  const share = (n: number): string => `${Math.round((n / Math.max(1, samples)) * 100)}%`;
  const top = [...chains]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 2)
    .map(([chain, n]) => `${share(n)} ${chain}`);
  return `${s.wallMs.toFixed(1)} ms wall, ${s.cpuMs.toFixed(1)} ms CPU, collector ${share(collector)} of ${samples} samples | ${top.join(' || ')}`;
}
