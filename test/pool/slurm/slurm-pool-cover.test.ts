import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { plan } from '../../../src/autoscaler/planner.ts';
import { scaleDown } from '../../../src/autoscaler/scale-down.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { cloudNodeName } from '../../../src/pool/slurm/join.ts';
import { SlurmCommands } from '../../../src/pool/slurm/slurm-commands.ts';
import { slurmPoolSchema } from '../../../src/pool/slurm/slurm-config.ts';
import type { SlurmJob } from '../../../src/pool/slurm/slurm-jobs.ts';
import type { SlurmNode } from '../../../src/pool/slurm/slurm-nodes.ts';
import { SlurmPool } from '../../../src/pool/slurm/slurm-pool.ts';
import { openSqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../../src/store/store.ts';
import { offering, policy } from '../../fakes/builders.ts';
import { asyncOf } from '../../helpers/async-store.ts';

const T0 = 1_795_677_570_000;
const SETTLE_MS = 3_000;

/** Slurm's answers as openapi v0.0.38 prints them, changed by each test; every command call is recorded. */
interface FakeSlurm {
  jobs: SlurmJob[];
  nodes: SlurmNode[];
  calls: string[];
}

function pendingJob(partial: Partial<SlurmJob> & { job_id: number }): SlurmJob {
  return {
    job_state: 'PENDING',
    state_reason: 'Resources',
    partition: 'main',
    cpus: 1,
    node_count: 1,
    memory_per_node: 100,
    features: '',
    account: '',
    user_name: 'root',
    priority: 100,
    submit_time: T0 / 1000 - 60,
    eligible_time: T0 / 1000 - 60,
    required_nodes: '',
    ...partial,
  };
}

/** The local.gpu offering as the Slurm-shaped provider labels it (features and partitions of its shape). */
const GPU = offering({
  providerId: 'local:cloud',
  instanceType: 'local.gpu',
  capacity: { cpuMillis: 2000, memoryMiB: 2000, netMbps: 0 },
  labels: {
    'slurm.io/feature.cloud': '1',
    'slurm.io/feature.local': '1',
    'slurm.io/feature.local.gpu': '1',
    'slurm.io/feature.a100': '1',
    'slurm.io/partition.main': '1',
  },
});

describe('slurm pool: a joined cloud node covers the pending jobs that fit it', () => {
  let dir: string;
  let store: Store;
  let slurm: FakeSlurm;
  let pool: SlurmPool;
  let node: string;
  let agentId: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-slurm-cover-'));
    store = openSqliteStore(join(dir, 'store.db'));
    const agent = store.agents.insert(
      {
        name: 'gpu-1',
        location: { kind: 'cloud', provider: 'local', region: 'local', zone: 'local-a' },
        capacity: GPU.capacity,
        labels: GPU.labels,
        lifecycle: 'on-demand',
        pricePerHourMicros: GPU.pricePerHourMicros,
        state: 'provisioning',
        instanceId: 'i-gpu-1',
        providerId: 'local:cloud',
        intentId: null,
      },
      T0 - 10_000,
    );
    // The boot script registers the offering's labels (Slurm features and partitions included).
    store.agents.register(agent.id, { capacity: GPU.capacity, labels: GPU.labels }, T0 - 1_000);
    agentId = agent.id;
    node = cloudNodeName('spw-', 'i-gpu-1');
    slurm = {
      jobs: [pendingJob({ job_id: 7, features: 'a100' })],
      nodes: [
        { name: 'priv-1', state: 'allocated', cpus: 1, alloc_cpus: 1, real_memory: 1000, alloc_memory: 100 },
        {
          name: node,
          state: 'idle',
          state_flags: ['DYNAMIC_NORM'],
          cpus: 2,
          real_memory: 2000,
          features: 'cloud,local,local.gpu,a100',
        },
      ],
      calls: [],
    };
    const run = async (command: string, args: readonly string[]): Promise<string> => {
      slurm.calls.push([command, ...args].join(' '));
      if (command === 'squeue') return JSON.stringify({ jobs: slurm.jobs });
      if (command === 'sinfo') return JSON.stringify({ nodes: slurm.nodes });
      if (command === 'scontrol' && args[0] === 'show') {
        return 'PartitionName=main Nodes=priv-1,tmpl-gpu State=UP\nPartitionName=private Nodes=priv-1 State=UP\n';
      }
      return '';
    };
    pool = new SlurmPool({
      store: asyncOf(store),
      logger: silentLogger(),
      commands: new SlurmCommands(run),
      config: slurmPoolSchema.parse({
        kind: 'slurm',
        slurmConf: '/etc/slurm/slurm.conf',
        confServer: '127.0.0.1:6817',
        mungeKeyFile: '/etc/munge/munge.key',
        settleMs: SETTLE_MS,
        shapes: [{ instanceType: 'local.gpu', placeholder: 'tmpl-gpu', features: ['a100'] }],
      }),
      providerKinds: ['local'],
    });
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function planned(nowMs: number) {
    const snapshot = await pool.observe();
    return plan({
      nowMs,
      policy: policy({ pendingGraceMs: 0 }),
      pending: snapshot.pending,
      agents: snapshot.agents,
      openLaunches: [],
      offerings: [GPU],
      unavailable: new Set(),
    });
  }

  it('launches no second instance for, and keeps, an idle node long past settleMs whose job Slurm has not started', async () => {
    await pool.sync(T0);
    assert.deepEqual((await planned(T0)).launches, [], 'settling: the node is capacity on its way');
    for (const nowMs of [T0 + SETTLE_MS, T0 + 10 * SETTLE_MS, T0 + 100 * SETTLE_MS]) {
      await pool.sync(nowMs);
      const snapshot = await pool.observe();
      const agent = snapshot.agents.find((a) => a.id === agentId)!;
      assert.equal(agent.state, 'registered');
      assert.equal(agent.idleSinceMs, null, 'not idle while the job waits for it');
      assert.deepEqual(snapshot.pending, [], 'the job is covered by the node');
      assert.deepEqual((await planned(nowMs)).launches, [], `no launch at +${nowMs - T0} ms`);
      const terminates = scaleDown({
        nowMs,
        policy: policy({ idleTtlMs: SETTLE_MS }),
        agents: snapshot.agents,
        terminating: new Set(),
      });
      assert.deepEqual(terminates, [], `no scale-down of the node the job waits for at +${nowMs - T0} ms`);
    }
    // The job is cancelled: the node's idle time starts.
    slurm.jobs = [];
    const gone = T0 + 101 * SETTLE_MS;
    await pool.sync(gone);
    assert.equal((await pool.observe()).agents.find((a) => a.id === agentId)!.idleSinceMs, gone);
    await pool.sync(gone + SETTLE_MS);
    const terminates = scaleDown({
      nowMs: gone + SETTLE_MS,
      policy: policy({ idleTtlMs: SETTLE_MS }),
      agents: (await pool.observe()).agents,
      terminating: new Set(),
    });
    assert.deepEqual(
      terminates.map((t) => t.agentId),
      [agentId],
    );
  });

  it('covers only what fits: one job per node of a multi-node job, the rest is still demand', async () => {
    slurm.jobs = [
      pendingJob({ job_id: 7, features: 'a100', cpus: 2, memory_per_node: 1000 }),
      pendingJob({ job_id: 8, features: 'a100', cpus: 2, memory_per_node: 1000 }),
      pendingJob({ job_id: 9, cpus: 2, node_count: 2, memory_per_node: 100 }),
    ];
    await pool.sync(T0);
    await pool.sync(T0 + SETTLE_MS);
    assert.deepEqual(
      (await pool.observe()).pending.map((t) => t.id),
      ['slurm-8', 'slurm-9', 'slurm-9.1'],
    );
    slurm.jobs = [pendingJob({ job_id: 9, cpus: 2, node_count: 2, memory_per_node: 100 })];
    await pool.sync(T0 + SETTLE_MS + 1);
    assert.deepEqual(
      (await pool.observe()).pending.map((t) => t.id),
      ['slurm-9.1'],
    );
    assert.equal((await planned(T0 + SETTLE_MS + 1)).launches.length, 1);
  });

  it('does not count a node that lacks the feature, is busy, draining or down', async () => {
    slurm.jobs = [pendingJob({ job_id: 7, features: 'a100' }), pendingJob({ job_id: 8, features: 'v100' })];
    await pool.sync(T0);
    await pool.sync(T0 + SETTLE_MS);
    assert.deepEqual(
      (await pool.observe()).pending.map((t) => t.id),
      ['slurm-8'],
      'v100 is no feature of the node (and of no shape: private-only)',
    );
    slurm.jobs = [pendingJob({ job_id: 7, features: 'a100' })];
    for (const busy of [
      { state: 'allocated', alloc_cpus: 2, alloc_memory: 2000 },
      { state: 'idle', state_flags: ['DRAIN'] },
      { state: 'down' },
    ]) {
      slurm.nodes = [{ ...slurm.nodes[1]!, name: node, ...busy }];
      await pool.sync(T0 + SETTLE_MS + 1);
      assert.deepEqual(
        (await pool.observe()).pending.map((t) => t.id),
        ['slurm-7'],
        JSON.stringify(busy),
      );
    }
  });
});
