import assert from 'node:assert/strict';
import { beforeEach, it } from 'mocha';
import { resources } from '../../../src/core/resources.ts';
import { T0 } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/scopes.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */

/** The store's half of tenancy: a scope filters in the query itself, not after it (STYLE rule 16). */
describeEachEngine('store contract: team scopes', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  async function insert(team: string, project: string): Promise<string> {
    const [task] = await store.tasks.insert(
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

  it('keeps a token scope across reads, and no scope on an unscoped token', async () => {
    await store.tokens.create(
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
    await store.tokens.create({ id: 'tok-u', role: 'submitter', name: 'u', agentId: null, createdAtMs: T0 }, 'h2');
    assert.deepEqual((await store.tokens.byHash('h1'))?.scope, { teams: ['vision', 'ml'], projects: ['a'] });
    assert.equal((await store.tokens.get('tok-u'))?.scope, undefined);
    assert.ok(!('scope' in ((await store.tokens.get('tok-u')) ?? {})));
  });

  it('lists, pages and gets only the tasks of the scope’s teams and projects', async () => {
    const va = await insert('vision', 'a');
    const vb = await insert('vision', 'b');
    const ma = await insert('ml', 'a');
    const oa = await insert('other', 'a');
    const ids = async (scope: { teams: string[]; projects?: string[] }): Promise<string[]> =>
      (await store.tasks.list({ scope })).map((t) => t.id).sort();
    assert.deepEqual(await ids({ teams: ['vision'] }), [va, vb].sort());
    assert.deepEqual(await ids({ teams: ['vision', 'ml'], projects: ['a'] }), [va, ma].sort());
    assert.deepEqual(await ids({ teams: ['nobody'] }), []);
    assert.deepEqual(
      (await store.tasks.page({ scope: { teams: ['ml', 'other'] }, limit: 10 })).tasks.map((t) => t.id).sort(),
      [ma, oa].sort(),
    );
    assert.equal(await store.tasks.get(ma, { teams: ['vision'] }), undefined);
    assert.equal(await store.tasks.get(vb, { teams: ['vision'], projects: ['a'] }), undefined);
    assert.equal((await store.tasks.get(va, { teams: ['vision'], projects: ['a'] }))?.id, va);
    assert.equal((await store.tasks.get(ma))?.id, ma);
  });

  it('counts one team’s pending tasks for the quota', async () => {
    await insert('vision', 'a');
    await insert('vision', 'a');
    const ml = await insert('ml', 'a');
    await store.tasks.cancel(await insert('vision', 'b'), 'test', T0);
    assert.equal(await store.tasks.countPending('vision'), 2);
    assert.equal(await store.tasks.countPending('ml'), 1);
    await store.tasks.cancel(ml, 'test', T0);
    assert.equal(await store.tasks.countPending('ml'), 0);
  });
});
