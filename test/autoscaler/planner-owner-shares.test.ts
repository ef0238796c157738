import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { ownerShares, type ShareTask } from '../../src/autoscaler/planner-owner-shares.ts';
import type { OwnerShare } from '../../src/core/owner.ts';
import type { Resources } from '../../src/core/resources.ts';
import { RUNS } from './planner-scenarios.ts';

/**
 * A launch's owner shares, against a reference written here from the rule itself: one entry per `team/project/job`
 * string (the first task's owner object), weighing the sum of its tasks' largest resource fraction (at least 1e-9),
 * heaviest first, ties by that string; shares are weights over their sum.
 */
function reference(tasks: readonly ShareTask[], capacity: Resources): OwnerShare[] {
  const byKey = new Map<string, { owner: ShareTask['owner']; key: string; weight: number }>();
  for (const t of tasks) {
    const key = `${t.owner.team}/${t.owner.project}/${t.owner.job}`;
    const fractions = (['cpuMillis', 'memoryMiB', 'gpus', 'netMbps'] as const)
      .filter((k) => capacity[k] > 0)
      .map((k) => t.resources[k] / capacity[k]);
    const weight = Math.max(0, ...fractions, 1e-9);
    const e = byKey.get(key);
    if (e) e.weight += weight;
    else byKey.set(key, { owner: t.owner, key, weight });
  }
  const entries = [...byKey.values()];
  const total = entries.reduce((sum, e) => sum + e.weight, 0);
  entries.sort((a, b) => (a.weight !== b.weight ? b.weight - a.weight : a.key < b.key ? -1 : 1));
  return entries.map((e) => ({ owner: e.owner, share: e.weight / total }));
}

const CAPACITY: Resources = { cpuMillis: 8000, memoryMiB: 16_384, gpus: 4, netMbps: 1000 };

describe('planner: owner shares of a launch', () => {
  it('weighs owners by their tasks and orders equal weights by team, project and job', () => {
    const t = (team: string, project: string, job: string, cpuMillis: number): ShareTask => ({
      owner: { team, project, job },
      resources: { cpuMillis, memoryMiB: 0, gpus: 0, netMbps: 0 },
    });
    const shares = ownerShares(
      [
        t('b', 'p', 'j1', 2000),
        t('a', 'q', 'j2', 1000),
        t('a', 'p', 'j9', 1000),
        t('b', 'p', 'j1', 2000),
        t('a', 'p', 'j10', 1000),
      ],
      CAPACITY,
    );
    // b/p/j1: 4 CPUs of 8 (0.5); the three one-CPU owners 0.125 each, by key: a/p/j10 < a/p/j9 < a/q/j2.
    assert.deepEqual(
      shares.map((s) => [`${s.owner.team}/${s.owner.project}/${s.owner.job}`, s.share]),
      [
        ['b/p/j1', 0.5 / 0.875],
        ['a/p/j10', 0.125 / 0.875],
        ['a/p/j9', 0.125 / 0.875],
        ['a/q/j2', 0.125 / 0.875],
      ],
    );
  });

  it('weighs each task by its own shape when its neighbour differs in one dimension only', () => {
    const base = { cpuMillis: 1000, memoryMiB: 0, gpus: 0, netMbps: 0 };
    // 1/8 of the CPUs alone; with the other dimension the whole memory, GPUs or bandwidth.
    for (const [key, full] of [
      ['cpuMillis', 8000],
      ['memoryMiB', 16_384],
      ['gpus', 4],
      ['netMbps', 1000],
    ] as const) {
      const shares = ownerShares(
        [
          { owner: { team: 't', project: 'p', job: 'small' }, resources: base },
          { owner: { team: 't', project: 'p', job: 'big' }, resources: { ...base, [key]: full } },
        ],
        CAPACITY,
      );
      assert.deepEqual(
        shares.map((x) => [x.owner.job, x.share]),
        [
          ['big', 1 / 1.125],
          ['small', 0.125 / 1.125],
        ],
        key,
      );
    }
  });

  it('orders and merges owners as their `team/project/job` strings do when names hold a slash', () => {
    const t = (team: string, project: string, job: string): ShareTask => ({
      owner: { team, project, job },
      resources: { cpuMillis: 1000, memoryMiB: 0, gpus: 0, netMbps: 0 },
    });
    // a/b + c and a + b/c are one key (a/b/c/j); "a-b" sorts before "a/" though "a" < "a-b".
    const first = t('a/b', 'c', 'j');
    const shares = ownerShares([first, t('a', 'b/c', 'j'), t('a-b', 'x', 'j'), t('a', 'x', 'j')], CAPACITY);
    assert.equal(shares.length, 3);
    assert.equal(shares[0]!.owner, first.owner);
    assert.equal(shares[0]!.share, 0.5);
    assert.deepEqual(
      shares.slice(1).map((s) => s.owner.team),
      ['a-b', 'a'],
    );
  });

  it('equals the reference over random owners and shapes (property)', () => {
    const name = fc.constantFrom('a', 'b', 'a-b', 'ab', 'a/b', 'b/', '', 'z');
    const taskArb = fc.record({
      owner: fc.record({ team: name, project: name, job: fc.constantFrom('j', 'j1', 'j10', 'j/2', 'k') }),
      // Few values each, so neighbouring tasks often share all but one dimension.
      resources: fc.record({
        cpuMillis: fc.constantFrom(0, 1000, 2000, 8000, 3333),
        memoryMiB: fc.constantFrom(0, 1024, 16_384, 5000),
        gpus: fc.constantFrom(0, 1, 2),
        netMbps: fc.constantFrom(0, 100, 1000),
      }),
    });
    fc.assert(
      fc.property(fc.array(taskArb, { minLength: 1, maxLength: 40 }), (tasks) => {
        assert.deepEqual(ownerShares(tasks, CAPACITY), reference(tasks, CAPACITY));
      }),
      { numRuns: RUNS },
    );
  });
});
