/**
 * Random workloads drawn from the traces in data/traces/, for the benchmarks. Seeded: the same seed gives the same
 * workloads.
 */
import { join } from 'node:path';
import { seededRandom } from '../../src/core/random.ts';
import type { Resources } from '../../src/core/resources.ts';
import type { Task, TaskConstraints } from '../../src/core/task.ts';
import { readAlibabaPods, readSwf, TRACES_DIR, type AlibabaPod, type SwfJob } from './traces.ts';


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

let traces: { kth: SwfJob[]; pods: AlibabaPod[] } | undefined;

function loadTraces(): { kth: SwfJob[]; pods: AlibabaPod[] } {
  traces ??= {
    kth: readSwf(join(TRACES_DIR, 'KTH-SP2-1996-2.1-cln.swf.gz')),
    pods: readAlibabaPods(join(TRACES_DIR, 'alibaba-gpu-v2023/openb_pod_list_first4000.csv')),
  };
  return traces;
}

/**
 * `count` workloads, a third each from KTH, Alibaba and both: each a window of consecutive submissions (a burst the
 * planner sees at once) of between `minTasks` and `maxTasks` tasks. KTH jobs become one task of their processors
 * (revocable with probability one half); Alibaba pods one task of their CPU, memory and whole GPUs (GPU-sharing pods
 * take a whole GPU: clouds rent no fractions), revocable when best-effort (QoS BE), restricted to their GPU models.
 */
export function drawWorkloads(count: number, seed: number, opts: { minTasks: number; maxTasks: number }): Workload[] {
  const { kth, pods } = loadTraces();
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

function kthTasks(jobs: readonly SwfJob[], random: () => number, prefix: string): Task[] {
  return jobs.map((job, i) => {
    const memPerProc = KTH_MEMORY_PER_PROCESSOR_MIB[randomInt(random, 0, KTH_MEMORY_PER_PROCESSOR_MIB.length - 1)]!;
    return benchTask(
      `${prefix}-kth-${job.id}-${i}`,
      { cpuMillis: job.processors * 1000, memoryMiB: job.processors * memPerProc },
      {
        revocable: random() < 0.5,
        team: `user-${job.id % 7}`,
      },
    );
  });
}

function podTasks(pods: readonly AlibabaPod[], prefix: string): Task[] {
  return pods.map((pod, i) =>
    benchTask(
      `${prefix}-${pod.name}-${i}`,
      { cpuMillis: pod.cpuMillis, memoryMiB: pod.memoryMiB, gpus: pod.gpus },
      { revocable: pod.qos === 'BE', team: pod.qos, constraints: pod.gpuSpec.length ? { gpuModels: pod.gpuSpec } : {} },
    ),
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
