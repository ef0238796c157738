import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { Agent } from '../../../src/core/agent.ts';
import type { JobCompRecord } from '../../../src/pool/slurm/jobcomp.ts';
import type { SlurmJob } from '../../../src/pool/slurm/slurm-jobs.ts';
import { SlurmUsage } from '../../../src/pool/slurm/slurm-usage.ts';
import type { AsyncStore } from '../../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../../src/store/sqlite/async-sqlite-store.ts';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import { T0, TempStores, addAgent } from '../../store/helpers.ts';

const ACCOUNTS = { physics: 'science' };
/** T0 in Slurm's seconds. */
const T0_S = T0 / 1000;

/** A job squeue shows running on `node`: 4 CPUs and 4 GiB of the node's 8 CPUs and 16 GiB, half of it. */
function runningJob(jobId: number, node: string, overrides: Partial<SlurmJob> = {}): SlurmJob {
  return {
    job_id: jobId,
    job_state: 'RUNNING',
    account: 'physics',
    user_name: 'ada',
    cpus: 4,
    node_count: 1,
    start_time: T0_S,
    job_resources: { allocated_nodes: [{ nodename: node, memory_allocated: 4096 }] },
    ...overrides,
  };
}

/**
 * The Slurm pool's ledger runs, written through the asynchronous store port into a real SQLite file. Each call is
 * one transaction: a run that cannot be written undoes the others the same call wrote.
 */
describe('slurm usage on the asynchronous store port', () => {
  let temp: TempStores;
  let store: SqliteStore;
  let asyncStore: AsyncStore;
  let usage: SlurmUsage;
  let agents: Map<string, Agent>;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open() as SqliteStore;
    asyncStore = asyncSqliteStore(store);
    usage = new SlurmUsage(asyncStore, ACCOUNTS);
    // 8 CPUs, 16 GiB each.
    agents = new Map([
      ['spw-a', addAgent(store, { name: 'a' })],
      ['spw-b', addAgent(store, { name: 'b' })],
    ]);
  });
  afterEach(() => temp.cleanup());

  function runs(jobId: number, node: string) {
    return store.ledger.usageOf(`slurm-${jobId}@${node}`).map((r) => ({
      agentId: r.agentId,
      owner: r.owner,
      share: r.share,
      startMs: r.startMs,
      endMs: r.endMs,
    }));
  }

  /** Makes SQLite refuse to open the run of job `jobId`, so the call that writes it fails there. */
  function failRunOf(jobId: number): void {
    const db = new DatabaseSync(temp.path);
    db.exec(`CREATE TRIGGER planted_failure BEFORE INSERT ON ledger_usage WHEN NEW.task_id LIKE 'slurm-${jobId}@%'
             BEGIN SELECT RAISE(ABORT, 'planted failure'); END`);
    db.close();
  }

  it('opens a run for a job running on a cloud node, owned by its account’s team, and closes it when the job leaves', async () => {
    const nowMs = T0 + 60_000;
    await usage.recordQueue([runningJob(7, 'spw-a')], agents, nowMs);
    await usage.recordQueue([runningJob(7, 'spw-a')], agents, nowMs + 1_000);
    const open = {
      agentId: agents.get('spw-a')!.id,
      owner: { team: 'science', project: 'physics', job: 'ada' },
      share: 0.5,
      startMs: T0,
      endMs: null,
    };
    assert.deepEqual(runs(7, 'spw-a'), [open], 'one run, however many passes see it');
    // Gone from squeue: ended before this pass.
    await usage.recordQueue([], agents, nowMs + 30_000);
    assert.deepEqual(runs(7, 'spw-a'), [{ ...open, endMs: nowMs + 30_000 }]);
  });

  it('writes a pass’s runs in one transaction: when one cannot be opened, none is', async () => {
    const nowMs = T0 + 60_000;
    await usage.recordQueue([runningJob(1, 'spw-a')], agents, nowMs);
    failRunOf(3);
    // Job 1 left, jobs 2 and 3 started: the close of 1 and the open of 2 go with the failed open of 3.
    await assert.rejects(
      usage.recordQueue([runningJob(2, 'spw-a'), runningJob(3, 'spw-b')], agents, nowMs + 1_000),
      /planted failure/,
    );
    assert.equal(runs(1, 'spw-a')[0]?.endMs, null, 'job 1 still open');
    assert.deepEqual(runs(2, 'spw-a'), [], 'job 2 not opened');
  });

  it('records a run squeue never saw from its completion record, in one transaction with the others', async () => {
    const record = (jobId: number, nodeList: string): JobCompRecord => ({
      jobId,
      state: 'COMPLETED',
      account: 'physics',
      user: 'ada',
      nodeList,
      cpusPerNode: 2,
      startMs: T0,
      endMs: T0 + 90_000,
    });
    failRunOf(9);
    await assert.rejects(usage.recordCompletions([record(8, 'spw-a'), record(9, 'spw-b')], agents), /planted failure/);
    assert.deepEqual(runs(8, 'spw-a'), [], 'job 8 not recorded alone');

    const db = new DatabaseSync(temp.path);
    db.exec('DROP TRIGGER planted_failure');
    db.close();
    await usage.recordCompletions([record(8, 'spw-a'), record(9, 'spw-b')], agents);
    await usage.recordCompletions([record(8, 'spw-a')], agents);
    // 2 of 8 CPUs: a quarter of the node.
    const whole = {
      owner: { team: 'science', project: 'physics', job: 'ada' },
      share: 0.25,
      startMs: T0,
      endMs: T0 + 90_000,
    };
    assert.deepEqual(runs(8, 'spw-a'), [{ agentId: agents.get('spw-a')!.id, ...whole }], 'recorded once');
    assert.deepEqual(runs(9, 'spw-b'), [{ agentId: agents.get('spw-b')!.id, ...whole }]);
  });
});
