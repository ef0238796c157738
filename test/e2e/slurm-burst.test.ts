import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { cloudNodeName } from '../../src/pool/slurm/join.ts';
import { pidsMatching } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { SlurmCluster } from '../slurm/slurm-cluster.ts';
import { adminClient, cleanup, makeCluster, query, ServeProcess, waitHealthy, type Cluster } from './harness.ts';

/** The serve log's JSON lines that name a node: message, node, time. */
function logEvents(log: string): { message: string; node: string; timeMs: number }[] {
  const events: { message: string; node: string; timeMs: number }[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { message?: string; node?: string; timestamp?: string };
    if (e.node && e.message && e.timestamp)
      events.push({ message: e.message, node: e.node, timeMs: Date.parse(e.timestamp) });
  }
  return events;
}

interface AgentRow {
  id: string;
  state: string;
  instance_id: string;
  reason: string;
  labels: string;
}

/**
 * Slurm as the pool, against a real slurmctld (Debian's Slurm): 2 private 1-CPU nodes, `spillway serve` with
 * `pool.kind: slurm` and the local cloud, whose instances run the Slurm boot script: register, fetch the munge key,
 * start munged and a configless dynamic slurmd in a network namespace of their own.
 */
describe('end to end: bursting a real Slurm cluster into the local cloud', function () {
  this.timeout(180_000);
  let slurm: SlurmCluster | undefined;
  let cluster: Cluster | undefined;
  let serve: ServeProcess | undefined;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    slurm = new SlurmCluster({
      privateNodes: [
        { name: 'priv-1', cpus: 1, memoryMiB: 1000 },
        { name: 'priv-2', cpus: 1, memoryMiB: 1000 },
      ],
      placeholders: [
        { name: 'tmpl-small', cpus: 2, memoryMiB: 2000, features: ['cloud', 'local', 'local.small'] },
        { name: 'tmpl-gpu', cpus: 2, memoryMiB: 2000, features: ['cloud', 'local', 'local.gpu', 'a100'] },
      ],
      namespaces: 4,
      partitions: [
        'NodeSet=cloudset Feature=cloud',
        'PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
        'PartitionName=private Nodes=priv-[1-2] MaxTime=INFINITE State=UP',
      ],
    });
    await slurm.start();
    cluster = await makeCluster({
      pool: {
        kind: 'slurm',
        slurmConf: slurm.slurmConf,
        confServer: `${slurm.controllerAddress}:${slurm.ctldPort}`,
        mungeKeyFile: slurm.mungeKeyFile,
        mungeSocket: slurm.mungeSocket,
        jobcompFile: slurm.jobcompFile,
        nodePrefix: 'spw-',
        accounts: { physics: 'physics-team', vision: 'vision-team' },
        settleMs: 3_000,
        nodeWorkDir: join(slurm.dir, 'nodes'),
        shapes: [
          { instanceType: 'local.small', placeholder: 'tmpl-small' },
          { instanceType: 'local.gpu', placeholder: 'tmpl-gpu', features: ['a100'] },
        ],
        localNodes: { netns: slurm.namespaces, lockFile: slurm.netnsLock },
      },
      providers: [
        {
          kind: 'local',
          name: 'cloud',
          bootDelayMs: 200,
          offerings: [
            { instanceType: 'local.small', cpu: 2, memory: 2000, pricePerHourUsd: 0.08 },
            { instanceType: 'local.gpu', cpu: 2, memory: 2000, pricePerHourUsd: 0.9 },
          ],
        },
      ],
      policy: {
        pendingGraceMs: 3_000,
        idleTtlMs: 4_000,
        maxProvisionMs: 60_000,
        unknownInstanceGraceMs: 60_000,
        limits: { maxInstances: 4, maxVcpus: 8, maxGpus: 0 },
      },
      budgets: [
        {
          name: 'physics-cap',
          scope: { kind: 'team', team: 'physics-team' },
          period: 'day',
          capUsd: 0,
          onCap: 'finish',
        },
      ],
    });
    serve = new ServeProcess(cluster);
    await waitHealthy(cluster.url, serve);
  });

  after(async () => {
    if (serve) await serve.stop().catch(() => undefined);
    await cleanup(cluster, [serve?.child]);
    await slurm?.stop();
  });

  const cloudAgents = (): AgentRow[] =>
    query<AgentRow>(
      cluster!,
      `SELECT id, state, instance_id, reason, labels FROM agents WHERE location LIKE '%"cloud"%'`,
    );
  const launches = (): { offering: string }[] => query(cluster!, `SELECT offering FROM intents WHERE kind = 'launch'`);
  const launchedTypes = (): string[] =>
    launches().map((l) => (JSON.parse(l.offering) as { instanceType: string }).instanceType);
  const allGone = async (): Promise<boolean> => {
    const states = await slurm!.nodeStates();
    return (
      cloudAgents().every((a) => a.state === 'terminated') && ![...states.keys()].some((n) => n.startsWith('spw-'))
    );
  };

  it('bursts for jobs three times the private capacity, runs them on private and cloud nodes, then drains, deletes and terminates', async () => {
    const s = slurm!;
    const jobs: string[] = [];
    for (let i = 0; i < 6; i++) jobs.push(await s.sbatch('-c1', '--mem=200', '-A', 'vision', '--wrap', 'sleep 6'));
    const nodes = await waitFor(
      'all six jobs to complete',
      async () => {
        const infos = await Promise.all(jobs.map((j) => s.job(j)));
        return infos.every((j) => j.JobState === 'COMPLETED') ? infos.map((j) => j.NodeList!) : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    assert.ok(
      nodes.some((n) => n.startsWith('priv-')),
      `some ran on private nodes: ${nodes.join(' ')}`,
    );
    assert.ok(
      nodes.some((n) => n.startsWith('spw-')),
      `some ran on cloud nodes: ${nodes.join(' ')}`,
    );
    assert.deepEqual([...new Set(launchedTypes())], ['local.small'], 'the cheapest shape, not the GPU one');
    const agents = cloudAgents();
    for (const n of nodes.filter((x) => x.startsWith('spw-'))) {
      assert.ok(
        agents.some((a) => cloudNodeName('spw-', a.instance_id) === n),
        `node ${n} is a Spillway agent`,
      );
    }

    await waitFor('cloud nodes drained, deleted and terminated', allGone, { timeoutMs: 40_000, intervalMs: 500 });
    const events = logEvents(serve!.log());
    const at = (message: string, node: string): number | undefined =>
      events.find((e) => e.message === message && e.node === node)?.timeMs;
    for (const agent of cloudAgents()) {
      const node = cloudNodeName('spw-', agent.instance_id);
      const drained = at('draining node', node);
      const deleted = at('deleted node', node);
      const [terminate] = query<{ created_at_ms: number }>(
        cluster!,
        `SELECT MIN(created_at_ms) AS created_at_ms FROM intents WHERE kind = 'terminate' AND instance_ids LIKE ?`,
        `%${agent.instance_id}%`,
      );
      assert.ok(drained !== undefined && deleted !== undefined, `node ${node} was drained and deleted`);
      assert.ok(drained < deleted && deleted <= terminate!.created_at_ms, `${node}: drain, delete, then terminate`);
      // Drained only after idleTtlMs without a job: its last run ended at least that long before.
      const [last] = query<{ end_ms: number }>(
        cluster!,
        'SELECT MAX(end_ms) AS end_ms FROM ledger_usage WHERE agent_id = ?',
        agent.id,
      );
      if (last?.end_ms) assert.ok(drained - last.end_ms >= 4_000 - 1_000, `${node} idled ${drained - last.end_ms} ms`);
    }
    // Chargeback by Slurm account: the cloud nodes' runs are in the ledger and the report under the vision team.
    const usage = query<{ team: string; end_ms: number | null }>(cluster!, `SELECT team, end_ms FROM ledger_usage`);
    assert.ok(usage.length > 0, 'runs on cloud nodes were recorded');
    assert.ok(
      usage.every((u) => u.team === 'vision-team' && u.end_ms !== null),
      JSON.stringify(usage),
    );
    const api = adminClient(cluster!);
    try {
      const report = await api.get<{ rows: { team: string; onDemandUsd: number; cloudUsd: number }[] }>(
        '/v1/reports/chargeback?by=team',
      );
      const vision = report.rows.find((r) => r.team === 'vision-team');
      assert.ok(vision && vision.onDemandUsd > 0 && vision.cloudUsd > 0, JSON.stringify(report.rows));
    } finally {
      api.close();
    }
    // The instances' processes are gone.
    await waitFor('no slurmd of a cloud node left', () => pidsMatching('slurmd -D -Z').length === 0, {
      timeoutMs: 15_000,
    });
  });

  it('bursts only the shape with the feature a job needs, and never for a job limited to private nodes', async () => {
    const s = slurm!;
    const before = launches().length;
    const fillers = [
      await s.sbatch('-p', 'private', '-c1', '--mem=100', '--wrap', 'sleep 25'),
      await s.sbatch('-p', 'private', '-c1', '--mem=100', '--wrap', 'sleep 25'),
    ];
    const privateJob = await s.sbatch('-p', 'private', '-c1', '--mem=100', '--wrap', 'true');
    const gpuJob = await s.sbatch('-C', 'a100', '-c1', '--mem=100', '--wrap', 'sleep 2');
    const gpu = await waitFor(
      'the a100 job to complete',
      async () => ((await s.job(gpuJob)).JobState === 'COMPLETED' ? s.job(gpuJob) : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    assert.match(gpu.NodeList!, /^spw-/);
    assert.deepEqual(launchedTypes().slice(before), ['local.gpu']);
    const waiting = await waitFor('the private job to show why it waits', async () => {
      const text = await s.scontrol('show', 'job', privateJob);
      return /Comment=spillway: waits for private room/.test(text) ? text : undefined;
    });
    assert.match(waiting, /JobState=PENDING/);
    assert.equal(launches().length - before, 1, 'the private job launched nothing');
    await s.command('scancel', [...fillers, privateJob]);
    await waitFor('cloud nodes gone', allGone, { timeoutMs: 40_000, intervalMs: 500 });
  });

  it("launches nothing for a team whose budget is at its cap, and says so in the job's comment", async () => {
    const s = slurm!;
    // An idle cloud node (left by an earlier test) would run the job at once, and no reason would ever be written.
    await waitFor('no cloud node left', allGone, { timeoutMs: 40_000, intervalMs: 500 });
    const before = launches().length;
    const fillers = [
      await s.sbatch('-p', 'private', '-c1', '--mem=100', '--wrap', 'sleep 20'),
      await s.sbatch('-p', 'private', '-c1', '--mem=100', '--wrap', 'sleep 20'),
    ];
    const job = await s.sbatch('-A', 'physics', '-c1', '--mem=100', '--wrap', 'true');
    const text = await waitFor(
      'the budget reason on the job',
      async () => {
        const shown = await s.scontrol('show', 'job', job);
        return /Comment=spillway: .*budget/i.test(shown) ? shown : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.match(text, /physics-cap/);
    assert.equal(launches().length, before, 'no launch for the capped team');
    await s.command('scancel', [...fillers, job]);
  });

  it('marks a cloud node whose slurmd died down, Slurm requeues its job elsewhere, and its instance is terminated', async () => {
    const s = slurm!;
    // Long on its first run (so Slurm finds the node dead before it ends), short once requeued.
    const marker = join(s.dir, 'jobs', 'lost-test.first-run');
    const script = `if [ -e ${marker} ]; then sleep 1; else touch ${marker}; sleep 120; fi`;
    const job = await s.sbatch('-C', 'cloud', '-c2', '--mem=500', '--wrap', script);
    const node = await waitFor(
      'the job running on a cloud node',
      async () => {
        const j = await s.job(job);
        return j.JobState === 'RUNNING' && j.NodeList?.startsWith('spw-') ? j.NodeList : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    const agent = cloudAgents().find((a) => cloudNodeName('spw-', a.instance_id) === node)!;
    const slurmd = pidsMatching(`-N ${node}`).filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('slurmd'),
    );
    assert.equal(slurmd.length, 1);
    process.kill(slurmd[0]!, 'SIGKILL');

    await waitFor(
      'the agent lost and its instance terminated',
      () =>
        query<AgentRow>(cluster!, 'SELECT id, state, reason FROM agents WHERE id = ?', agent.id)[0]?.state ===
        'terminated',
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const done = await waitFor(
      'the requeued job to complete elsewhere',
      async () => {
        const j = await s.job(job);
        return j.JobState === 'COMPLETED' ? j : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    assert.notEqual(done.NodeList, node);
    assert.ok(Number(done.Restarts) >= 1, `Slurm requeued it (Restarts=${done.Restarts})`);
    const events = logEvents(serve!.log());
    const down = events.find((e) => e.message === 'set node down' && e.node === node);
    assert.ok(down, `node ${node} was set DOWN`);
    const [terminate] = query<{ created_at_ms: number; state: string }>(
      cluster!,
      `SELECT created_at_ms, state FROM intents WHERE kind = 'terminate' AND instance_ids LIKE ?`,
      `%${agent.instance_id}%`,
    );
    assert.ok(terminate && terminate.state === 'done', 'its instance was terminated by Spillway');
    assert.ok(down.timeMs <= terminate.created_at_ms, 'DOWN before the instance is terminated');
    assert.equal(pidsMatching(`-N ${node}`).length, 0, 'nothing of the node runs any more');
    await waitFor('the lost node deleted from Slurm', async () => !(await s.nodeStates()).has(node), {
      timeoutMs: 30_000,
    });
  });
});
