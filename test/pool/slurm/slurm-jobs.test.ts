import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { demandTasks, jobIdOf, type DemandContext, type SlurmJob } from '../../../src/pool/slurm/slurm-jobs.ts';
import { expandHostList, shapesByPartition } from '../../../src/pool/slurm/slurm-shapes.ts';

const ctx: DemandContext = {
  pendingReasons: new Set(['Resources', 'Priority', 'ReqNodeNotAvail', 'None']),
  accounts: { physics: 'physics-team' },
  cloudFeatures: new Set(['cloud', 'local', 'local.small', 'a100']),
  cloudPartitions: new Set(['main', 'burst']),
};

/** A pending job as `squeue --json` (openapi v0.0.38) shows it; fields as Slurm 22.05.8 printed them. */
function job(partial: Partial<SlurmJob> & { job_id: number }): SlurmJob {
  return {
    job_state: 'PENDING',
    state_reason: 'Resources',
    partition: 'main',
    cpus: 1,
    node_count: 1,
    memory_per_node: null,
    memory_per_cpu: 100,
    features: '',
    account: '',
    user_name: 'root',
    priority: 100,
    submit_time: 1_795_677_570,
    eligible_time: 1_795_677_570,
    required_nodes: '',
    ...partial,
  };
}

describe('slurm pool: pending demand from squeue --json', () => {
  it('counts pending jobs waiting for resources, and not held, dependent, rejected or running ones', () => {
    const tasks = demandTasks(
      [
        job({ job_id: 1 }),
        job({ job_id: 2, state_reason: 'JobHeldUser' }),
        job({ job_id: 3, state_reason: 'Dependency' }),
        job({ job_id: 4, job_state: 'FAILED', state_reason: 'BadConstraints' }),
        job({ job_id: 5, job_state: 'RUNNING', state_reason: 'None' }),
        job({ job_id: 6, state_reason: 'ReqNodeNotAvail' }),
        job({ job_id: 7, state_reason: 'AssocGrpCpuLimit' }),
      ],
      ctx,
    );
    assert.deepEqual(tasks.map((t) => t.id).sort(), ['slurm-1', 'slurm-6']);
  });

  it('sizes a task per node: memory per node, or per CPU times the CPUs; one task per node asked for', () => {
    const [perNode] = demandTasks([job({ job_id: 1, cpus: 2, memory_per_node: 1500, memory_per_cpu: null })], ctx);
    assert.deepEqual([perNode!.resources.cpuMillis, perNode!.resources.memoryMiB], [2000, 1500]);
    const [perCpu] = demandTasks([job({ job_id: 2, cpus: 2, memory_per_cpu: 300 })], ctx);
    assert.deepEqual([perCpu!.resources.cpuMillis, perCpu!.resources.memoryMiB], [2000, 600]);
    const multi = demandTasks([job({ job_id: 3, cpus: 4, node_count: 2 })], ctx);
    assert.deepEqual(
      multi.map((t) => [t.id, t.resources.cpuMillis]),
      [
        ['slurm-3', 2000],
        ['slurm-3.1', 2000],
      ],
    );
    assert.equal(jobIdOf('slurm-3.1'), 3);
  });

  it('takes the owner from the account through the mapping; an unmapped account is its own team', () => {
    const [mapped, unmapped] = demandTasks(
      [job({ job_id: 1, account: 'physics', user_name: 'ada', priority: 200 }), job({ job_id: 2, account: 'bio' })],
      ctx,
    );
    assert.deepEqual(mapped!.owner, { team: 'physics-team', project: 'physics', job: 'ada' });
    assert.deepEqual(unmapped!.owner, { team: 'bio', project: 'bio', job: 'root' });
  });

  it('turns features and partitions into constraints, and keeps jobs cloud nodes cannot serve private', () => {
    const tasks = demandTasks(
      [
        job({ job_id: 1, features: 'a100&cloud' }),
        job({ job_id: 2, partition: 'private' }),
        job({ job_id: 3, features: 'private' }),
        job({ job_id: 4, features: 'a100|local.small' }),
        job({ job_id: 5, required_nodes: 'priv-1' }),
        job({ job_id: 6, partition: 'private,burst' }),
      ],
      ctx,
    );
    const byId = new Map(tasks.map((t) => [t.id, t.constraints]));
    assert.deepEqual(byId.get('slurm-1'), {
      labels: { 'slurm.io/partition.main': '1', 'slurm.io/feature.a100': '1', 'slurm.io/feature.cloud': '1' },
    });
    for (const id of ['slurm-2', 'slurm-3', 'slurm-4', 'slurm-5'])
      assert.deepEqual(byId.get(id), { privateOnly: true }, id);
    assert.deepEqual(byId.get('slurm-6'), { labels: { 'slurm.io/partition.burst': '1' } });
  });

  it('expands host lists and finds the partitions that hold a shape placeholder', () => {
    assert.deepEqual(expandHostList('priv-[1-3,5],tmpl-gpu,n[08-10]x'), [
      'priv-1',
      'priv-2',
      'priv-3',
      'priv-5',
      'tmpl-gpu',
      'n08x',
      'n09x',
      'n10x',
    ]);
    const parts = shapesByPartition(
      new Map([
        ['main', 'priv-[1-2],tmpl-gpu,tmpl-small'],
        ['private', 'priv-[1-2]'],
        ['burst', 'tmpl-gpu'],
      ]),
      [
        { instanceType: 'local.small', placeholder: 'tmpl-small', features: [] },
        { instanceType: 'local.gpu', placeholder: 'tmpl-gpu', features: ['a100'] },
      ],
    );
    assert.deepEqual([...parts.keys()], ['main', 'burst']);
    assert.deepEqual([...parts.get('main')!].sort(), ['tmpl-gpu', 'tmpl-small']);
  });
});
