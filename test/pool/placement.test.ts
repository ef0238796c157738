import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { placeTasks } from '../../src/pool/builtin/placement.ts';
import { agent, cloudAgent, task } from '../fakes/builders.ts';

describe('placement', () => {
  it('fills private agents before cloud agents', () => {
    const priv = agent({ capacity: { cpuMillis: 2000 } });
    const cloud = cloudAgent({ capacity: { cpuMillis: 8000 } });
    const tasks = [task(), task(), task()];
    const placements = placeTasks(tasks, [cloud, priv]);
    assert.deepEqual(placements.map((p) => p.agentId), [priv.id, priv.id, cloud.id]);
  });

  it('checks all four resources', () => {
    const a = agent({ capacity: { cpuMillis: 4000, memoryMiB: 4096, gpus: 0, netMbps: 100 } });
    assert.equal(placeTasks([task({ resources: { gpus: 1 } })], [a]).length, 0);
    assert.equal(placeTasks([task({ resources: { netMbps: 200 } })], [a]).length, 0);
    assert.equal(placeTasks([task({ resources: { memoryMiB: 5000 } })], [a]).length, 0);
    assert.equal(placeTasks([task({ resources: { memoryMiB: 4096, netMbps: 100 } })], [a]).length, 1);
  });

  it('puts a task on the fullest agent it fits, so others empty out', () => {
    const busy = cloudAgent({ allocated: { cpuMillis: 1000, memoryMiB: 1024 } });
    const empty = cloudAgent();
    assert.equal(placeTasks([task()], [empty, busy])[0]!.agentId, busy.id);
  });

  it('keeps private-only tasks private and non-revocable tasks off spot', () => {
    const spot = cloudAgent({ lifecycle: 'spot' });
    const onDemand = cloudAgent();
    assert.deepEqual(placeTasks([task({ constraints: { privateOnly: true } })], [spot, onDemand]), []);
    assert.equal(placeTasks([task()], [spot, onDemand])[0]!.agentId, onDemand.id);
    assert.equal(placeTasks([task({ revocable: true })], [spot])[0]!.agentId, spot.id);
  });

  it('places on registered agents only', () => {
    for (const state of ['provisioning', 'draining', 'lost', 'terminated'] as const) {
      assert.deepEqual(placeTasks([task()], [agent({ state })]), [], state);
    }
  });

  it('lets a smaller task pass a larger one that does not fit', () => {
    const a = agent({ capacity: { cpuMillis: 2000 } });
    const big = task({ priority: 10, resources: { cpuMillis: 4000 } });
    const small = task({ priority: 1 });
    assert.deepEqual(placeTasks([big, small], [a]).map((p) => p.taskId), [small.id]);
  });

  it('asks the cloud check before placing on a cloud agent', () => {
    const cloud = cloudAgent();
    assert.deepEqual(placeTasks([task()], [cloud], { allowCloud: () => false }), []);
  });
});
