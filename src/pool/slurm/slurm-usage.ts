import type { Agent } from '../../core/agent.ts';
import { dominantShare, resources, type Resources } from '../../core/resources.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import type { JobCompRecord } from './jobcomp.ts';
import { jobOwner, type SlurmJob } from './slurm-jobs.ts';
import { expandHostList } from './slurm-shapes.ts';

/** The ledger run of one job on one node: `slurm-42@spw-0a1b2c3d4e`. */
export function runId(jobId: number, node: string): string {
  return `slurm-${jobId}@${node}`;
}

/**
 * Records Slurm jobs' runs on cloud nodes in the ledger (usage intervals), so chargeback and budgets split each
 * node's cost by Slurm account exactly as for the builtin pool's tasks: a run opens when `squeue` shows the job
 * running on the node, and closes at the EndTime of its job completion record (jobcomp/filetxt), or, without one,
 * when squeue shows the job no longer running. Runs squeue never saw (short jobs between two passes) are recorded
 * whole from their completion record. Idempotent; each call is one store transaction.
 */
export class SlurmUsage {
  readonly #store: AsyncStore;
  readonly #accounts: Readonly<Record<string, string>>;

  constructor(store: AsyncStore, accounts: Readonly<Record<string, string>>) {
    this.#store = store;
    this.#accounts = accounts;
  }

  /** Opens the runs of running jobs on `agents` (by node name) and closes those of jobs that left their node. */
  async recordQueue(jobs: readonly SlurmJob[], agents: ReadonlyMap<string, Agent>, nowMs: number): Promise<void> {
    const store = this.#store;
    await store.transaction(async () => {
      const running = new Set<string>();
      for (const job of jobs) {
        if (job.job_state !== 'RUNNING') continue;
        const nodeCount = Math.max(1, job.node_count ?? 1);
        for (const alloc of job.job_resources?.allocated_nodes ?? []) {
          const agent = agents.get(alloc.nodename);
          if (!agent) continue;
          const id = runId(job.job_id, alloc.nodename);
          running.add(id);
          const used = resources({
            cpuMillis: Math.ceil((job.cpus ?? 1) / nodeCount) * 1000,
            memoryMiB: alloc.memory_allocated ?? 0,
          });
          await store.ledger.openUsageInterval({
            taskId: id,
            agentId: agent.id,
            owner: jobOwner(job, this.#accounts),
            share: shareOf(used, agent.capacity),
            startMs: (job.start_time ?? nowMs / 1000) * 1000,
          });
        }
      }
      const ended = new Map(jobs.map((j) => [j.job_id, j]));
      for (const usage of (await store.ledger.overlapping(nowMs, nowMs + 1)).usage) {
        if (usage.endMs !== null || !usage.taskId.startsWith('slurm-') || running.has(usage.taskId)) continue;
        const job = ended.get(Number(/^slurm-(\d+)@/.exec(usage.taskId)?.[1]));
        // A job squeue still lists as ended carries its end time; one it forgot ended before now.
        const endS = job && job.job_state !== 'PENDING' && (job.end_time ?? 0) > 0 ? job.end_time! : nowMs / 1000;
        await store.ledger.closeUsageInterval(usage.taskId, Math.min(endS * 1000, nowMs));
      }
    });
  }

  /** Records completed runs on cloud nodes from job completion records: opened if never seen, closed at EndTime. */
  async recordCompletions(records: readonly JobCompRecord[], agents: ReadonlyMap<string, Agent>): Promise<void> {
    const store = this.#store;
    await store.transaction(async () => {
      for (const record of records) {
        for (const node of expandHostList(record.nodeList)) {
          const agent = agents.get(node);
          if (!agent) continue;
          const id = runId(record.jobId, node);
          const runs = await store.ledger.usageOf(id);
          if (!runs.some((r) => r.startMs === record.startMs || r.endMs === null)) {
            await store.ledger.openUsageInterval({
              taskId: id,
              agentId: agent.id,
              owner: jobOwner(
                { job_id: record.jobId, job_state: record.state, account: record.account, user_name: record.user },
                this.#accounts,
              ),
              share: shareOf(resources({ cpuMillis: record.cpusPerNode * 1000 }), agent.capacity),
              startMs: record.startMs,
            });
          }
          await store.ledger.closeUsageInterval(id, record.endMs);
        }
      }
    });
  }
}

function shareOf(used: Resources, capacity: Resources): number {
  return Math.min(1, dominantShare(used, capacity));
}
