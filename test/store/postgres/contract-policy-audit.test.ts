import assert from 'node:assert/strict';
import { beforeEach, it } from 'mocha';
import { NotFoundError } from '../../../src/core/errors.ts';
import { DEMO_POLICY, PRODUCTION_POLICY } from '../../../src/core/policy.ts';
import { T0 } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/policy-audit.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */

describeEachEngine('store contract: policy and audit', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  it('throws NotFoundError while no policy is stored', async () => {
    await assert.rejects(async () => await store.policy.get(), NotFoundError);
  });

  it('seeds the policy only on first start, without an audit entry', async () => {
    assert.equal(await store.policy.seed(DEMO_POLICY, T0), true);
    assert.equal(await store.policy.seed(PRODUCTION_POLICY, T0 + 1), false);
    assert.deepEqual(await store.policy.get(), DEMO_POLICY);
    assert.deepEqual(await store.audit.list(), []);
  });

  it('replaces the policy and audits the change with its actor, before and after', async () => {
    await store.policy.seed(PRODUCTION_POLICY, T0);
    const paused = { ...PRODUCTION_POLICY, paused: true };
    await store.policy.set(paused, 'alice', T0 + 5);
    assert.deepEqual(await store.policy.get(), paused);
    const [entry] = await store.audit.list();
    assert.deepEqual(entry, {
      id: entry!.id,
      atMs: T0 + 5,
      actor: 'alice',
      action: 'policy.set',
      detail: { before: PRODUCTION_POLICY, after: paused },
    });
  });

  it('audits a policy set on an empty store with before null', async () => {
    await store.policy.set(DEMO_POLICY, 'bob', T0);
    assert.deepEqual((await store.audit.list())[0]!.detail, { before: null, after: DEMO_POLICY });
  });

  it('keeps neither the policy nor its audit entry when the surrounding transaction fails', async () => {
    await store.policy.seed(PRODUCTION_POLICY, T0);
    await assert.rejects(() =>
      store.transaction(async () => {
        await store.policy.set({ ...PRODUCTION_POLICY, paused: true }, 'alice', T0 + 1);
        throw new Error('boom');
      }),
    );
    assert.deepEqual(await store.policy.get(), PRODUCTION_POLICY);
    assert.deepEqual(await store.audit.list(), []);
  });

  it('lists audit entries newest first, up to a limit', async () => {
    for (let i = 0; i < 5; i++) {
      await store.audit.append({ atMs: T0 + i, actor: 'carol', action: 'budget.set', detail: { n: i } });
    }
    assert.deepEqual(
      (await store.audit.list()).map((e) => e.detail),
      [{ n: 4 }, { n: 3 }, { n: 2 }, { n: 1 }, { n: 0 }],
    );
    assert.deepEqual(
      (await store.audit.list(2)).map((e) => e.atMs),
      [T0 + 4, T0 + 3],
    );
    const ids = (await store.audit.list()).map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
  });
});
