import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import type { TaskHeader } from '../../src/core/task.ts';
import { groupByClass, pendingClassKey } from '../../src/model/pending-classes.ts';

function task(id: string, overrides: Partial<TaskHeader> = {}): TaskHeader {
  return {
    id,
    owner: { team: 'ml', project: 'p', job: id },
    resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
    priority: 0,
    revocable: false,
    constraints: {},
    state: 'pending',
    agentId: null,
    attempts: 0,
    createdAtMs: 0,
    pendingSinceMs: 0,
    startedAtMs: null,
    finishedAtMs: null,
    exitCode: null,
    reason: '',
    ...overrides,
  };
}

describe('pending classes', () => {
  const cases: { name: string; a: TaskHeader; b: TaskHeader; same: boolean }[] = [
    {
      name: 'jobs, priorities, ids and times aside, equal tasks share a class',
      a: task('a'),
      b: task('b', { priority: 5, pendingSinceMs: 9, owner: { team: 'ml', project: 'p', job: 'other' } }),
      same: true,
    },
    {
      name: 'constraints with keys in another order share a class',
      a: task('a', { constraints: { privateOnly: false, labels: { x: '1', y: '2' } } }),
      b: task('b', { constraints: { labels: { y: '2', x: '1' }, privateOnly: false } }),
      same: true,
    },
    {
      name: 'another memory size is another class',
      a: task('a'),
      b: task('b', { resources: resources({ cpuMillis: 1000, memoryMiB: 2048 }) }),
      same: false,
    },
    {
      name: 'another team is another class',
      a: task('a'),
      b: task('b', { owner: { team: 'web', project: 'p', job: 'b' } }),
      same: false,
    },
    {
      name: 'another project is another class',
      a: task('a'),
      b: task('b', { owner: { team: 'ml', project: 'q', job: 'b' } }),
      same: false,
    },
    { name: 'revocable is another class', a: task('a'), b: task('b', { revocable: true }), same: false },
    {
      name: 'a constraint is another class',
      a: task('a'),
      b: task('b', { constraints: { privateOnly: true } }),
      same: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(pendingClassKey(c.a) === pendingClassKey(c.b), c.same));
  }

  it('groups tasks in the order of each class’s first task, keeping the order within a class', () => {
    const big = resources({ cpuMillis: 4000, memoryMiB: 1024 });
    const tasks = [task('1'), task('2', { resources: big }), task('3'), task('4', { resources: big }), task('5')];
    assert.deepEqual(
      groupByClass(tasks).map((c) => c.tasks.map((t) => t.id)),
      [
        ['1', '3', '5'],
        ['2', '4'],
      ],
    );
  });
});
