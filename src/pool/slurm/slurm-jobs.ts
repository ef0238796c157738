import type { Owner } from '../../core/owner.ts';
import { resources } from '../../core/resources.ts';
import type { Task, TaskConstraints } from '../../core/task.ts';
import { FEATURE_LABEL, PARTITION_LABEL } from './slurm-shapes.ts';

/** The fields of an openapi v0.0.38 job (`squeue --json`) Spillway reads. */
export interface SlurmJob {
  readonly job_id: number;
  readonly job_state: string;
  readonly state_reason?: string;
  readonly partition?: string;
  readonly cpus?: number | null;
  readonly node_count?: number | null;
  readonly memory_per_node?: number | null;
  readonly memory_per_cpu?: number | null;
  readonly features?: string;
  readonly account?: string;
  readonly user_name?: string;
  readonly priority?: number;
  readonly submit_time?: number;
  readonly eligible_time?: number;
  readonly start_time?: number;
  readonly end_time?: number;
  readonly required_nodes?: string;
  readonly comment?: string;
  readonly job_resources?: {
    readonly allocated_nodes?: readonly { readonly nodename: string; readonly memory_allocated?: number }[];
  } | null;
}

/** What turning jobs into demand needs to know of the cluster. */
export interface DemandContext {
  /** Reasons that count (`Resources`, `Priority`, `ReqNodeNotAvail`, ...). */
  readonly pendingReasons: ReadonlySet<string>;
  /** Slurm account -> team. */
  readonly accounts: Readonly<Record<string, string>>;
  /** Every feature some cloud shape's nodes carry. */
  readonly cloudFeatures: ReadonlySet<string>;
  /** Partitions that hold at least one shape's placeholder: the ones cloud nodes can serve. */
  readonly cloudPartitions: ReadonlySet<string>;
}

/** The jobs of an `squeue --json` answer; anything else is an empty list. */
export function jobsOf(json: unknown): SlurmJob[] {
  const jobs = (json as { jobs?: unknown } | null)?.jobs;
  return Array.isArray(jobs) ? (jobs as SlurmJob[]).filter((j) => typeof j?.job_id === 'number') : [];
}

/** The Spillway owner of a job: team from the account mapping (an unmapped account is its own team). */
export function jobOwner(job: SlurmJob, accounts: Readonly<Record<string, string>>): Owner {
  const account = job.account || 'default';
  return { team: accounts[account] ?? account, project: account, job: job.user_name || 'default' };
}

/** True for a job that counts as demand: PENDING for a reason that more nodes could cure. */
export function isDemand(job: SlurmJob, reasons: ReadonlySet<string>): boolean {
  return (
    job.job_state === 'PENDING' && job.state_reason !== 'BadConstraints' && reasons.has(job.state_reason ?? 'None')
  );
}

/**
 * The pending demand of Slurm's queue as tasks, highest priority first: one task per node a job asks for, with the
 * CPUs and memory of one node (memory per node, or per CPU times the CPUs), owner from the account, and where it may
 * go: its features as constraints, its partition's cloud shapes; a job whose partitions hold no shape, that needs a
 * feature no shape has, a feature expression other than `a&b`, or named nodes, is private-only. Pure.
 */
export function demandTasks(jobs: readonly SlurmJob[], ctx: DemandContext): Task[] {
  const tasks: Task[] = [];
  for (const job of jobs) {
    if (!isDemand(job, ctx.pendingReasons)) continue;
    const nodes = Math.max(1, job.node_count ?? 1);
    const cpus = Math.max(1, Math.ceil((job.cpus ?? 1) / nodes));
    const memoryMiB = job.memory_per_node ?? (job.memory_per_cpu ?? 0) * cpus;
    const sinceS = Math.max(job.submit_time ?? 0, job.eligible_time ?? 0);
    const base = {
      owner: jobOwner(job, ctx.accounts),
      resources: resources({ cpuMillis: cpus * 1000, memoryMiB }),
      priority: job.priority ?? 0,
      revocable: false,
      constraints: constraintsOf(job, ctx),
      command: [],
      state: 'pending' as const,
      agentId: null,
      attempts: 0,
      createdAtMs: (job.submit_time ?? 0) * 1000,
      pendingSinceMs: sinceS * 1000,
      startedAtMs: null,
      finishedAtMs: null,
      exitCode: null,
      outputTail: '',
      reason: `slurm job ${job.job_id} pending (${job.state_reason ?? 'None'})`,
    };
    for (let k = 0; k < nodes; k++)
      tasks.push({ ...base, id: k === 0 ? `slurm-${job.job_id}` : `slurm-${job.job_id}.${k}` });
  }
  return tasks.sort((a, b) => b.priority - a.priority || a.pendingSinceMs - b.pendingSinceMs);
}

/** The Slurm job id behind a task id (`slurm-42`, `slurm-42.1`). */
export function jobIdOf(taskId: string): number | undefined {
  const m = /^slurm-(\d+)(?:\.\d+)?$/.exec(taskId);
  return m ? Number(m[1]) : undefined;
}

function constraintsOf(job: SlurmJob, ctx: DemandContext): TaskConstraints {
  const expr = (job.features ?? '').trim();
  const features = expr === '' ? [] : expr.split(/[&,]/).map((f) => f.trim());
  const partition = (job.partition ?? '').split(',').find((p) => ctx.cloudPartitions.has(p));
  const privateOnly =
    partition === undefined ||
    Boolean(job.required_nodes) ||
    /[|[\]*!()]/.test(expr) ||
    features.some((f) => f === '' || !ctx.cloudFeatures.has(f));
  if (privateOnly) return { privateOnly: true };
  const labels: Record<string, string> = { [`${PARTITION_LABEL}${partition}`]: '1' };
  for (const f of features) labels[`${FEATURE_LABEL}${f}`] = '1';
  return { labels };
}
