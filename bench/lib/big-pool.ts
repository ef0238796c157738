import type { Clock } from '../../src/core/clock.ts';
import { SimProvider } from '../../src/sim/sim-provider.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import type { NewAgent, NewTask, Store } from '../../src/store/store.ts';
import { BENCH_REGIONS, benchOfferings } from './catalog-offerings.ts';

/**
 * Fills a store with a large running pool: `agents` registered private agents of `cpusPerAgent` CPUs (4 GiB each),
 * each running `tasksPerAgent` tasks of one CPU and 1 GiB, placed and claimed through the store's own transitions
 * (so the ledger records their usage as in production). Owners spread over 20 teams and 200 projects.
 */
export function fillPool(store: Store, opts: FillOptions): void {
  // One transaction: one commit (and one sync) for the whole pool.
  store.transaction(() => fill(store, opts));
}

type FillOptions = {
  agents: number;
  tasksPerAgent: number;
  cpusPerAgent: number;
  nowMs: number;
  log?: (line: string) => void;
};

function fill(store: Store, opts: FillOptions): void {
  const { nowMs } = opts;
  const agentIds: string[] = [];
  store.transaction(() => {
    for (let i = 0; i < opts.agents; i++) agentIds.push(store.agents.insert(poolAgent(i, opts.cpusPerAgent), nowMs).id);
  });
  opts.log?.(`  ${agentIds.length} agents recorded`);
  for (const batch of taskBatches(agentIds, opts.tasksPerAgent)) {
    store.transaction(() => {
      const tasks = store.tasks.insert(batch.tasks, nowMs);
      batch.agentIds.forEach((agentId, g) => {
        for (let k = 0; k < opts.tasksPerAgent; k++)
          store.tasks.place(tasks[g * opts.tasksPerAgent + k]!.id, agentId, nowMs);
        store.tasks.claim(agentId, nowMs);
      });
    });
  }
  opts.log?.(`  ${agentIds.length * opts.tasksPerAgent} tasks running`);
}

/**
 * `fillPool` through the asynchronous port (a PostgreSQL store): the same agents and tasks through the same
 * transitions, the agents in one transaction and the tasks in one per batch of about 2,000.
 */
export async function fillPoolAsync(store: AsyncStore, opts: FillOptions): Promise<void> {
  const { nowMs } = opts;
  const agentIds = await store.transaction(async () => {
    const ids: string[] = [];
    for (let i = 0; i < opts.agents; i++) ids.push((await store.agents.insert(poolAgent(i, opts.cpusPerAgent), nowMs)).id);
    return ids;
  });
  opts.log?.(`  ${agentIds.length} agents recorded`);
  for (const batch of taskBatches(agentIds, opts.tasksPerAgent)) {
    await store.transaction(async () => {
      const tasks = await store.tasks.insert(batch.tasks, nowMs);
      for (const [g, agentId] of batch.agentIds.entries()) {
        for (let k = 0; k < opts.tasksPerAgent; k++)
          await store.tasks.place(tasks[g * opts.tasksPerAgent + k]!.id, agentId, nowMs);
        await store.tasks.claim(agentId, nowMs);
      }
    });
  }
  opts.log?.(`  ${agentIds.length * opts.tasksPerAgent} tasks running`);
}

/** The pool's agent number `i`: a registered private agent of `cpus` CPUs and 4 GiB per CPU, in one of 40 racks. */
function poolAgent(i: number, cpus: number): NewAgent {
  return {
    name: `node-${i}`,
    location: { kind: 'private', site: `rack-${i % 40}` },
    capacity: { cpuMillis: cpus * 1000, memoryMiB: cpus * 4096, gpus: 0, netMbps: 10_000 },
    labels: { rack: `rack-${i % 40}` },
    lifecycle: 'private',
    pricePerHourMicros: 0,
    state: 'registered',
    instanceId: null,
    providerId: null,
    intentId: null,
  };
}

/**
 * The running tasks of `agentIds`, `tasksPerAgent` one-CPU 1 GiB tasks each, in batches of about 2,000 tasks: each
 * batch's tasks in agent order (agent g of the batch runs tasks g * tasksPerAgent onwards).
 */
function taskBatches(agentIds: readonly string[], tasksPerAgent: number): { agentIds: string[]; tasks: NewTask[] }[] {
  const BATCH = 2_000;
  const perBatch = Math.max(1, Math.floor(BATCH / tasksPerAgent));
  const batches: { agentIds: string[]; tasks: NewTask[] }[] = [];
  for (let a = 0; a < agentIds.length; a += perBatch) {
    const group = agentIds.slice(a, a + perBatch);
    batches.push({
      agentIds: group,
      tasks: group.flatMap((_, g) =>
        Array.from({ length: tasksPerAgent }, (_, k) => ({
          owner: { team: `team-${(a + g) % 20}`, project: `project-${(a + g + k) % 200}`, job: `job-${a + g}-${k}` },
          resources: { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 },
          priority: 0,
          revocable: false,
          constraints: {},
          command: [],
        })),
      ),
    });
  }
  return batches;
}

/** Who the benchmarks' controllers are: cluster `bench`, a fixed secret, an unreachable URL (nothing boots). */
export const BENCH_IDENTITY = {
  holderId: 'bench',
  launch: { clusterId: 'bench', controllerUrl: 'http://127.0.0.1:1', caBundle: '', serverSecret: Buffer.alloc(32, 1) },
} as const;

/** `count` pending one-CPU, 1 GiB tasks of five projects of team `burst`: demand the full pool cannot hold. */
export function burstTasks(count: number, job: string): NewTask[] {
  return Array.from({ length: count }, (_, i) => ({
    owner: { team: 'burst', project: `p${i % 5}`, job },
    resources: { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 },
    priority: 0,
    revocable: false,
    constraints: {},
    command: [],
  }));
}

/** Simulated clouds for BENCH_REGIONS, offering the bundled catalog's types there. */
export function benchSimProviders(clock: Clock, random: () => number): SimProvider[] {
  const offerings = benchOfferings();
  return BENCH_REGIONS.map(
    (r) =>
      new SimProvider({
        id: r.providerId,
        kind: r.provider,
        offerings: offerings.filter((o) => o.providerId === r.providerId),
        clock,
        random,
      }),
  );
}
