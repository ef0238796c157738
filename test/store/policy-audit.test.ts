import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { NotFoundError } from '../../src/core/errors.ts';
import { DEMO_POLICY, PRODUCTION_POLICY } from '../../src/core/policy.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores } from './helpers.ts';

describe('sqlite store: policy and audit', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  it('throws NotFoundError while no policy is stored', () => {
    assert.throws(() => store.policy.get(), NotFoundError);
  });

  it('seeds the policy only on first start, without an audit entry', () => {
    assert.equal(store.policy.seed(DEMO_POLICY, T0), true);
    assert.equal(store.policy.seed(PRODUCTION_POLICY, T0 + 1), false);
    assert.deepEqual(store.policy.get(), DEMO_POLICY);
    assert.deepEqual(store.audit.list(), []);
  });

  it('replaces the policy and audits the change with its actor, before and after', () => {
    store.policy.seed(PRODUCTION_POLICY, T0);
    const paused = { ...PRODUCTION_POLICY, paused: true };
    store.policy.set(paused, 'alice', T0 + 5);
    assert.deepEqual(store.policy.get(), paused);
    const [entry] = store.audit.list();
    assert.deepEqual(entry, {
      id: entry!.id,
      atMs: T0 + 5,
      actor: 'alice',
      action: 'policy.set',
      detail: { before: PRODUCTION_POLICY, after: paused },
    });
  });

  it('audits a policy set on an empty store with before null', () => {
    store.policy.set(DEMO_POLICY, 'bob', T0);
    assert.deepEqual(store.audit.list()[0]!.detail, { before: null, after: DEMO_POLICY });
  });

  it('keeps neither the policy nor its audit entry when the surrounding transaction fails', () => {
    store.policy.seed(PRODUCTION_POLICY, T0);
    assert.throws(() =>
      store.transaction(() => {
        store.policy.set({ ...PRODUCTION_POLICY, paused: true }, 'alice', T0 + 1);
        throw new Error('boom');
      }),
    );
    assert.deepEqual(store.policy.get(), PRODUCTION_POLICY);
    assert.deepEqual(store.audit.list(), []);
  });

  it('lists audit entries newest first, up to a limit', () => {
    for (let i = 0; i < 5; i++) {
      store.audit.append({ atMs: T0 + i, actor: 'carol', action: 'budget.set', detail: { n: i } });
    }
    assert.deepEqual(
      store.audit.list().map((e) => e.detail),
      [{ n: 4 }, { n: 3 }, { n: 2 }, { n: 1 }, { n: 0 }],
    );
    assert.deepEqual(
      store.audit.list(2).map((e) => e.atMs),
      [T0 + 4, T0 + 3],
    );
    const ids = store.audit.list().map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
  });
});
