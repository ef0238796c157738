import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { ownerShares, type ShareTask } from '../../src/autoscaler/planner-owner-shares.ts';
import type { Resources } from '../../src/core/resources.ts';

/**
 * Owners of equal weight in a launch's shares (planner-owner-shares.ts) are ordered by `team/project/job` whatever
 * order their tasks come in: the order is part of the intent the controller writes.
 */

const CAPACITY: Resources = { cpuMillis: 8000, memoryMiB: 16_384, gpus: 4, netMbps: 1000 };

function t(team: string, project: string, job: string): ShareTask {
  return { owner: { team, project, job }, resources: { cpuMillis: 1000, memoryMiB: 0, gpus: 0, netMbps: 0 } };
}

const keys = (tasks: readonly ShareTask[]): string[] =>
  ownerShares(tasks, CAPACITY).map((s) => `${s.owner.team}/${s.owner.project}/${s.owner.job}`);

describe('planner: owner shares of equal weight', () => {
  it('orders the jobs of one team and project by name, in either input order', () => {
    // "j10" < "j9" as strings; each job weighs one CPU of eight.
    assert.deepEqual(keys([t('a', 'p', 'j10'), t('a', 'p', 'j9')]), ['a/p/j10', 'a/p/j9']);
    assert.deepEqual(keys([t('a', 'p', 'j9'), t('a', 'p', 'j10')]), ['a/p/j10', 'a/p/j9']);
    assert.deepEqual(keys([t('a', 'p', 'k'), t('a', 'p', 'j'), t('a', 'p', 'i')]), ['a/p/i', 'a/p/j', 'a/p/k']);
    assert.deepEqual(keys([t('a', 'p', 'i'), t('a', 'p', 'j'), t('a', 'p', 'k')]), ['a/p/i', 'a/p/j', 'a/p/k']);
  });

  it('orders teams and projects by name before jobs, in either input order', () => {
    const tasks = [t('b', 'p', 'a'), t('a', 'q', 'a'), t('a', 'p', 'z')];
    assert.deepEqual(keys(tasks), ['a/p/z', 'a/q/a', 'b/p/a']);
    assert.deepEqual(keys([...tasks].reverse()), ['a/p/z', 'a/q/a', 'b/p/a']);
    // With a slash in a name the keys are compared whole, in either order too.
    const slashed = [t('b/x', 'p', 'j'), t('a', 'p', 'k'), t('a', 'p', 'j')];
    assert.deepEqual(keys(slashed), ['a/p/j', 'a/p/k', 'b/x/p/j']);
    assert.deepEqual(keys([...slashed].reverse()), ['a/p/j', 'a/p/k', 'b/x/p/j']);
  });
});
