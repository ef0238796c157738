import type { Clock } from '../../src/core/clock.ts';
import { SimProvider } from '../../src/sim/sim-provider.ts';
import type { NewTask, Store } from '../../src/store/store.ts';
import { BENCH_REGIONS, benchOfferings } from './catalog-offerings.ts';

/**
 * Fills a store with a large running pool: `agents` registered private agents of `cpusPerAgent` CPUs (4 GiB each),
 * each running `tasksPerAgent` tasks of one CPU and 1 GiB, placed and claimed through the store's own transitions
 * (so the ledger records their usage as in production). Owners spread over 20 teams and 200 projects.
 */
export function fillPool(
  store: Store,
  opts: { agents: number; tasksPerAgent: number; cpusPerAgent: number; nowMs: number; log?: (line: string) => void },
): void {
  // One transaction: one commit (and one sync) for the whole pool.
  store.transaction(() => fill(store, opts));
}

function fill(
  store: Store,
  opts: { agents: number; tasksPerAgent: number; cpusPerAgent: number; nowMs: number; log?: (line: string) => void },
): void {
  const { nowMs } = opts;
  const agentIds: string[] = [];
  store.transaction(() => {
    for (let i = 0; i < opts.agents; i++) {
      const agent = store.agents.insert(
        {
          name: `node-${i}`,
          location: { kind: 'private', site: `rack-${i % 40}` },
          capacity: {
            cpuMillis: opts.cpusPerAgent * 1000,
            memoryMiB: opts.cpusPerAgent * 4096,
            gpus: 0,
            netMbps: 10_000,
          },
          labels: { rack: `rack-${i % 40}` },
          lifecycle: 'private',
          pricePerHourMicros: 0,
          state: 'registered',
          instanceId: null,
          providerId: null,
          intentId: null,
        },
        nowMs,
      );
      agentIds.push(agent.id);
    }
  });
  opts.log?.(`  ${agentIds.length} agents recorded`);
  const BATCH = 2_000;
  const perBatch = Math.max(1, Math.floor(BATCH / opts.tasksPerAgent));
  for (let a = 0; a < agentIds.length; a += perBatch) {
    const group = agentIds.slice(a, a + perBatch);
    store.transaction(() => {
      const tasks = store.tasks.insert(
        group.flatMap((_, g) =>
          Array.from({ length: opts.tasksPerAgent }, (_, k) => ({
            owner: { team: `team-${(a + g) % 20}`, project: `project-${(a + g + k) % 200}`, job: `job-${a + g}-${k}` },
            resources: { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 },
            priority: 0,
            revocable: false,
            constraints: {},
            command: [],
          })),
        ),
        nowMs,
      );
      group.forEach((agentId, g) => {
        for (let k = 0; k < opts.tasksPerAgent; k++)
          store.tasks.place(tasks[g * opts.tasksPerAgent + k]!.id, agentId, nowMs);
        store.tasks.claim(agentId, nowMs);
      });
    });
  }
  opts.log?.(`  ${agentIds.length * opts.tasksPerAgent} tasks running`);
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
