import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  classKey,
  groupClasses,
  groupTasks,
  packingSize,
  toVector,
  type Grouping,
  type PendingClass,
} from '../../src/autoscaler/planner-groups.ts';
import type { TaskHeader as Task } from '../../src/core/task.ts';
import { task } from '../fakes/builders.ts';

/**
 * How the planner groups tasks (planner-groups.ts), on its own: the class key that decides eligibility, the groups
 * (class, shape, priority) and their planning order, and the same grouping from tasks handed over in classes.
 */

/** A grouping as plain data: class keys with their representative's id, groups with their tasks' ids. */
function shape(g: Grouping): { classes: string[]; groups: { priority: number; classIndex: number; ids: string[] }[] } {
  return {
    classes: g.classes.map((c) => `${c.key}@${c.representative.id}`),
    groups: g.groups.map((x) => ({ priority: x.priority, classIndex: x.classIndex, ids: x.tasks.map((t) => t.id) })),
  };
}

const ids = (g: Grouping): string[][] => g.groups.map((x) => x.tasks.map((t) => t.id));

describe('planner: task classes and groups', () => {
  it('weighs a GPU as 16 CPUs, 4 GiB of memory as a CPU and 10 Gbit/s as a CPU', () => {
    assert.equal(packingSize({ cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 }), 0);
    assert.equal(packingSize({ cpuMillis: 2000, memoryMiB: 8192, gpus: 1, netMbps: 5000 }), 16 + 2 + 2 + 0.5);
    assert.equal(packingSize({ cpuMillis: 500, memoryMiB: 1024, gpus: 0, netMbps: 20_000 }), 0.5 + 0.25 + 2);
    assert.deepEqual(toVector({ cpuMillis: 1, memoryMiB: 2, gpus: 3, netMbps: 4 }), [1, 2, 3, 4]);
  });

  it('gives unconstrained tasks the short keys, empty constraints counting as none', () => {
    assert.equal(classKey(task({ revocable: false })), 'steady');
    assert.equal(classKey(task({ revocable: true })), 'revocable');
    for (const constraints of [{ privateOnly: false }, { providers: [] }, { gpuModels: [] }, { labels: {} }]) {
      assert.equal(classKey(task({ constraints })), 'steady', JSON.stringify(constraints));
      assert.equal(classKey(task({ revocable: true, constraints })), 'revocable', JSON.stringify(constraints));
    }
  });

  it('tells apart every constraint and its values, but not their order or a GPU name spelling', () => {
    const key = (constraints: Task['constraints'], revocable = false): string => classKey(task({ constraints, revocable }));
    const distinct = [
      key({}),
      key({}, true),
      key({ privateOnly: true }),
      key({ privateOnly: true }, true),
      key({ providers: ['aws-ec2'] }),
      key({ providers: ['aws-ec2'] }, true),
      key({ providers: ['gcp-compute'] }),
      key({ providers: ['aws-ec2'], privateOnly: true }),
      key({ providers: ['aws-ec2', 'gcp-compute'] }),
      key({ gpuModels: ['A100'] }),
      key({ gpuModels: ['T4'] }),
      key({ gpuModels: ['A100'], providers: ['aws-ec2'] }),
      key({ labels: { pool: 'a' } }),
      key({ labels: { pool: 'b' } }),
      key({ labels: { zone: 'a' } }),
      key({ labels: { pool: 'a', zone: 'a' } }),
      key({ labels: { pool: 'a' } }, true),
    ];
    assert.equal(new Set(distinct).size, distinct.length, distinct.join('\n'));
    assert.equal(key({ providers: ['gcp-compute', 'aws-ec2'] }), key({ providers: ['aws-ec2', 'gcp-compute'] }));
    assert.equal(key({ gpuModels: [' a100', 't4'] }), key({ gpuModels: ['T4', 'A100'] }));
    assert.equal(key({ gpuModels: ['a100 80gb'] }), key({ gpuModels: ['A100-80GB'] }));
    assert.equal(key({ labels: { zone: 'z', pool: 'a', app: 'x' } }), key({ labels: { app: 'x', pool: 'a', zone: 'z' } }));
    // An empty list and no list are the same constraint, beside another that takes the long key.
    assert.equal(key({ providers: [], labels: { pool: 'a' } }), key({ labels: { pool: 'a' } }));
    assert.equal(key({ gpuModels: [], labels: { pool: 'a' } }), key({ labels: { pool: 'a' } }));
  });

  it('groups by class, every resource and priority, keeping queue order within a group', () => {
    const t = (id: string, over: Parameters<typeof task>[0] = {}): Task => task({ id, ...over });
    const tasks = [
      t('a1'),
      t('gpu', { resources: { gpus: 1 } }),
      t('net', { resources: { netMbps: 100 } }),
      t('mem', { resources: { memoryMiB: 2048 } }),
      t('cpu', { resources: { cpuMillis: 2000 } }),
      t('spot', { revocable: true }),
      t('hi', { priority: 5 }),
      t('a2'),
      t('hi2', { priority: 5 }),
      t('a3'),
    ];
    const g = groupTasks(tasks);
    // Priority 5 first; then by packing size: the GPU (17.25), two CPUs (2.25), 2 GiB (1.5), 100 Mbit/s
    // (1.26), then the plain shape's two classes by their keys: revocable (class 1) before steady.
    assert.deepEqual(ids(g), [['hi', 'hi2'], ['gpu'], ['cpu'], ['mem'], ['net'], ['spot'], ['a1', 'a2', 'a3']]);
    assert.deepEqual(
      g.classes.map((c) => [c.key, c.representative.id]),
      [
        ['steady', 'a1'],
        ['revocable', 'spot'],
      ],
    );
    assert.deepEqual(
      g.groups.map((x) => [x.priority, x.classIndex]),
      [
        [5, 0],
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 1],
        [0, 0],
      ],
    );
    // Without priorities, the priority-5 tasks join the plain group, each in its queue place.
    const flat = groupTasks(tasks, { byPriority: false });
    assert.deepEqual(flat.groups.at(-1)!.tasks.map((x) => x.id), ['a1', 'hi', 'a2', 'hi2', 'a3']);
    assert.ok(flat.groups.every((x) => x.priority === 0));
    assert.equal(flat.groups.length, 6);
  });

  it('orders groups of equal priority and packing size the same whatever the input order', () => {
    // One CPU and 4 GiB weighs 2, as do two CPUs: the tie is broken by the class key, then the shape.
    const tasks = [
      task({ id: 'm', resources: { cpuMillis: 1000, memoryMiB: 4096 } }),
      task({ id: 'c', resources: { cpuMillis: 2000, memoryMiB: 0 } }),
      task({ id: 'mr', revocable: true, resources: { cpuMillis: 1000, memoryMiB: 4096 } }),
      task({ id: 'cr', revocable: true, resources: { cpuMillis: 2000, memoryMiB: 0 } }),
    ];
    const forward = ids(groupTasks(tasks)).flat();
    for (const order of [[3, 2, 1, 0], [1, 0, 3, 2], [2, 3, 0, 1]]) {
      assert.deepEqual(ids(groupTasks(order.map((i) => tasks[i]!))).flat(), forward, String(order));
    }
    // 'revocable' < 'steady', and within a class the two shapes in one fixed order.
    assert.deepEqual(forward.slice(0, 2).sort(), ['cr', 'mr']);
    assert.deepEqual(forward.slice(2).sort(), ['c', 'm']);
    assert.equal(forward.indexOf('c') < forward.indexOf('m'), forward.indexOf('cr') < forward.indexOf('mr'));
  });

  it('orders classes of equal priority and size by their constraints, labels compared by name in name order', () => {
    // a: labels app=x and pool=z; b: pool=a. Name by name, a's first label (app) comes before b's (pool), whatever
    // the values: a's group is planned first, in either input order.
    const a = task({ id: 'a', constraints: { labels: { pool: 'z', app: 'x' } } });
    const b = task({ id: 'b', constraints: { labels: { pool: 'a' } } });
    assert.deepEqual(ids(groupTasks([b, a])), [['a'], ['b']]);
    assert.deepEqual(ids(groupTasks([a, b])), [['a'], ['b']]);
  });

  it('numbers and represents a class by its first task in the queue, whichever of its classes comes first', () => {
    // Two classes of one key (two owners) around a revocable task: the steady key's first task is q0 (rank 0), so
    // it is class 0 and q0 represents it, though a steady class starting at rank 1 is handed over last.
    const q = [0, 1, 2, 3].map((i) => task({ id: `q${i}`, owner: { team: `t${i % 2}`, project: 'p', job: 'j' } }));
    const spot = task({ id: 's', revocable: true });
    const grouped = groupClasses([
      { tasks: [q[0]!, q[2]!], ranks: [0, 2] },
      { tasks: [spot], ranks: [0.5] },
      { tasks: [q[1]!, q[3]!], ranks: [1, 3] },
    ]);
    assert.deepEqual(
      grouped.classes.map((c) => [c.key, c.representative.id]),
      [
        ['steady', 'q0'],
        ['revocable', 's'],
      ],
    );
    assert.deepEqual(shape(grouped), shape(groupTasks([q[0]!, spot, q[1]!, q[2]!, q[3]!])));
  });

  it('groups classes handed over with ranks as groupTasks groups the tasks listed by rank', () => {
    const owner = (team: string): Task['owner'] => ({ team, project: 'p', job: 'j' });
    // The queue: q0 .. q8. Three classes of one group (owners red, blue, green), one of another shape, one empty.
    const q = Array.from({ length: 9 }, (_, i) =>
      task({
        id: `q${i}`,
        owner: owner(['red', 'blue', 'green'][i % 3]!),
        resources: i === 4 ? { cpuMillis: 4000 } : {},
        revocable: i === 7,
      }),
    );
    const pending: PendingClass[] = [
      { tasks: [], ranks: [] },
      { tasks: [q[7]!], ranks: [7] },
      { tasks: [q[2]!, q[5]!, q[8]!], ranks: [2, 5, 8] },
      { tasks: [q[1]!], ranks: [1] },
      { tasks: [q[4]!], ranks: [4] },
      { tasks: [q[0]!, q[3]!, q[6]!], ranks: [0, 3, 6] },
    ];
    const grouped = groupClasses(pending);
    assert.deepEqual(shape(grouped), shape(groupTasks(q)));
    // Four CPUs first; then the plain shape's classes by key: revocable before steady.
    assert.deepEqual(ids(grouped), [['q4'], ['q7'], ['q0', 'q1', 'q2', 'q3', 'q5', 'q6', 'q8']]);
    // The class's representative is its first task in the queue, whichever class was handed over first.
    assert.deepEqual(
      grouped.classes.map((c) => c.representative.id),
      ['q0', 'q7'],
    );
  });

  it('merges several classes of one group by rank, an equal rank taking the earlier class first', () => {
    const t = (id: string): Task => task({ id });
    const pending: PendingClass[] = [
      { tasks: [t('a0'), t('a5')], ranks: [0, 5] },
      { tasks: [t('b1'), t('b5')], ranks: [1, 5] },
      { tasks: [t('c2'), t('c5'), t('c9')], ranks: [2, 5, 9] },
    ];
    assert.deepEqual(ids(groupClasses(pending)), [['a0', 'b1', 'c2', 'a5', 'b5', 'c5', 'c9']]);
    // One class alone is its own list.
    assert.deepEqual(ids(groupClasses([pending[2]!])), [['c2', 'c5', 'c9']]);
    assert.deepEqual(groupClasses([]), { classes: [], groups: [] });
  });
});
