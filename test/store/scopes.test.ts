import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { resources } from '../../src/core/resources.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores } from './helpers.ts';

/** The store's half of tenancy: a scope filters in the query itself, not after it (STYLE rule 16). */
describe('sqlite store: team scopes', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  function insert(team: string, project: string): string {
    const [task] = store.tasks.insert(
      [
        {
          owner: { team, project, job: 'j' },
          resources: resources({ cpuMillis: 100, memoryMiB: 64 }),
          priority: 0,
          revocable: false,
          constraints: {},
          command: ['true'],
        },
      ],
      T0,
    );
    return task?.id ?? '';
  }

  it('keeps a token scope across reads, and no scope on an unscoped token', () => {
    store.tokens.create(
      {
        id: 'tok-s',
        role: 'submitter',
        name: 's',
        agentId: null,
        createdAtMs: T0,
        scope: { teams: ['vision', 'ml'], projects: ['a'] },
      },
      'h1',
    );
    store.tokens.create({ id: 'tok-u', role: 'submitter', name: 'u', agentId: null, createdAtMs: T0 }, 'h2');
    assert.deepEqual(store.tokens.byHash('h1')?.scope, { teams: ['vision', 'ml'], projects: ['a'] });
    assert.equal(store.tokens.get('tok-u')?.scope, undefined);
    assert.ok(!('scope' in (store.tokens.get('tok-u') ?? {})));
  });

  it('lists, pages and gets only the tasks of the scope’s teams and projects', () => {
    const va = insert('vision', 'a');
    const vb = insert('vision', 'b');
    const ma = insert('ml', 'a');
    const oa = insert('other', 'a');
    const ids = (scope: { teams: string[]; projects?: string[] }): string[] =>
      store.tasks
        .list({ scope })
        .map((t) => t.id)
        .sort();
    assert.deepEqual(ids({ teams: ['vision'] }), [va, vb].sort());
    assert.deepEqual(ids({ teams: ['vision', 'ml'], projects: ['a'] }), [va, ma].sort());
    assert.deepEqual(ids({ teams: ['nobody'] }), []);
    assert.deepEqual(
      store.tasks
        .page({ scope: { teams: ['ml', 'other'] }, limit: 10 })
        .tasks.map((t) => t.id)
        .sort(),
      [ma, oa].sort(),
    );
    assert.equal(store.tasks.get(ma, { teams: ['vision'] }), undefined);
    assert.equal(store.tasks.get(vb, { teams: ['vision'], projects: ['a'] }), undefined);
    assert.equal(store.tasks.get(va, { teams: ['vision'], projects: ['a'] })?.id, va);
    assert.equal(store.tasks.get(ma)?.id, ma);
  });

  it('counts one team’s pending tasks for the quota', () => {
    insert('vision', 'a');
    insert('vision', 'a');
    const ml = insert('ml', 'a');
    store.tasks.cancel(insert('vision', 'b'), 'test', T0);
    assert.equal(store.tasks.countPending('vision'), 2);
    assert.equal(store.tasks.countPending('ml'), 1);
    store.tasks.cancel(ml, 'test', T0);
    assert.equal(store.tasks.countPending('ml'), 0);
  });
});
