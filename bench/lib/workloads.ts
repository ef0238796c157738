/**
 * Random workloads drawn from the traces in data/traces/, for the benchmarks. Seeded: the same seed gives the same
 * workloads.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { seededRandom } from '../../src/core/random.ts';
import type { Resources } from '../../src/core/resources.ts';
import type { Task, TaskConstraints } from '../../src/core/task.ts';
import { readAlibabaPods } from '../../src/sim/alibaba-reader.ts';
import { readSwf } from '../../src/sim/swf-reader.ts';
import type { TraceTask } from '../../src/sim/trace.ts';

export const TRACES_DIR = fileURLToPath(new URL('../../data/traces/', import.meta.url));
export const KTH_TRACE = join(TRACES_DIR, 'KTH-SP2-1996-2.1-cln.swf.gz');
export const ALIBABA_PODS = join(TRACES_DIR, 'alibaba-gpu-v2023/openb_pod_list_first4000.csv');

export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

export interface Workload {
  readonly name: string;
  /** Which trace the tasks come from. */
  readonly kind: 'kth' | 'alibaba' | 'mixed';
  /** Tasks in arrival order. */
  readonly tasks: readonly Task[];
}

/**
 * KTH SP2 jobs carry processors but no memory: each job gets a memory per processor drawn from these (MiB), so
 * workloads mix compute-heavy and memory-heavy shapes as today's jobs do.
 */
export const KTH_MEMORY_PER_PROCESSOR_MIB = [1024, 2048, 4096, 8192] as const;

let traces: { kth: TraceTask[]; pods: TraceTask[] } | undefined;

/** Both traces through the simulator's streaming readers (src/sim/), kept for drawing windows. */
async function loadTraces(): Promise<{ kth: TraceTask[]; pods: TraceTask[] }> {
  if (!traces) {
    const kth: TraceTask[] = [];
    for await (const job of readSwf(KTH_TRACE)) kth.push(job);
    const pods: TraceTask[] = [];
    for await (const pod of readAlibabaPods(ALIBABA_PODS)) pods.push(pod);
    traces = { kth, pods };
  }
  return traces;
}

/**
 * `count` workloads, a third each from KTH, Alibaba and both: each a window of consecutive submissions (a burst the
 * planner sees at once) of between `minTasks` and `maxTasks` tasks. KTH jobs become one task of their processors
 * (revocable with probability one half); Alibaba pods one task of their CPU, memory and whole GPUs (GPU-sharing pods
 * take a whole GPU: clouds rent no fractions), revocable when best-effort (QoS BE), restricted to their GPU models.
 */
export async function drawWorkloads(
  count: number,
  seed: number,
  opts: { minTasks: number; maxTasks: number },
): Promise<Workload[]> {
  const { kth, pods } = await loadTraces();
  const random = seededRandom(seed);
  const workloads: Workload[] = [];
  for (let i = 0; i < count; i++) {
    const kind = (['kth', 'alibaba', 'mixed'] as const)[i % 3]!;
    const n = randomInt(random, opts.minTasks, opts.maxTasks);
    const prefix = `w${i}`;
    let tasks: Task[];
    if (kind === 'kth') tasks = kthTasks(window(kth, n, random), random, prefix);
    else if (kind === 'alibaba') tasks = podTasks(window(pods, n, random), prefix);
    else {
      const half = Math.floor(n / 2);
      tasks = [
        ...kthTasks(window(kth, half, random), random, `${prefix}k`),
        ...podTasks(window(pods, n - half, random), `${prefix}a`),
      ];
    }
    workloads.push({ name: `${prefix}-${kind}-${tasks.length}`, kind, tasks });
  }
  return workloads;
}

function window<T>(items: readonly T[], n: number, random: () => number): T[] {
  const start = randomInt(random, 0, Math.max(0, items.length - n));
  return items.slice(start, start + n);
}

function kthTasks(jobs: readonly TraceTask[], random: () => number, prefix: string): Task[] {
  return jobs.map((job, i) => {
    const memPerProc = KTH_MEMORY_PER_PROCESSOR_MIB[randomInt(random, 0, KTH_MEMORY_PER_PROCESSOR_MIB.length - 1)]!;
    const processors = job.resources.cpuMillis / 1000;
    return benchTask(
      `${prefix}-kth-${job.id}-${i}`,
      { cpuMillis: job.resources.cpuMillis, memoryMiB: processors * memPerProc },
      {
        revocable: random() < 0.5,
        team: `user-${Number(job.id) % 7}`,
      },
    );
  });
}

function podTasks(pods: readonly TraceTask[], prefix: string): Task[] {
  return pods.map((pod, i) =>
    benchTask(`${prefix}-${pod.id}-${i}`, pod.resources, {
      revocable: pod.revocable,
      team: pod.owner.project,
      constraints: pod.constraints,
    }),
  );
}

/** A pending task for the benchmarks. */
export function benchTask(
  id: string,
  r: Partial<Resources>,
  opts: { revocable?: boolean; team?: string; constraints?: TaskConstraints; priority?: number } = {},
): Task {
  return {
    id,
    owner: { team: opts.team ?? 'bench', project: 'bench', job: id },
    resources: { cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0, ...r },
    priority: opts.priority ?? 0,
    revocable: opts.revocable ?? false,
    constraints: opts.constraints ?? {},
    command: [],
    state: 'pending',
    agentId: null,
    attempts: 0,
    createdAtMs: 0,
    pendingSinceMs: 0,
    startedAtMs: null,
    finishedAtMs: null,
    exitCode: null,
    outputTail: '',
    reason: '',
  };
}
