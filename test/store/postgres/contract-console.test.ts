import assert from 'node:assert/strict';
import { beforeEach, it } from 'mocha';
import { T0 } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * Web console sign-in codes and sessions through the asynchronous port, against both engines (expected values from
 * the cases themselves).
 */
describeEachEngine('store contract: console', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
    await store.tokens.create(
      { id: 'tok-admin', role: 'admin', name: 'admin', agentId: null, createdAtMs: T0 },
      'hash-admin',
    );
  });

  it('uses a code once, before it expires, and gives the token that made it', async () => {
    await store.console.addCode('code-1', 'tok-admin', T0, T0 + 300_000);
    await store.console.addCode('code-2', 'tok-admin', T0, T0 + 300_000);
    assert.equal(await store.console.useCode('code-1', T0 + 1_000), 'tok-admin');
    assert.equal(await store.console.useCode('code-1', T0 + 2_000), undefined, 'a code works once');
    assert.equal(await store.console.useCode('code-2', T0 + 300_000), undefined, 'expired at its expiry');
    assert.equal(await store.console.useCode('nope', T0 + 1_000), undefined);
  });

  it('gives a code to exactly one of two requests using it at once', async () => {
    await store.console.addCode('code-race', 'tok-admin', T0, T0 + 300_000);
    const results = await Promise.all([
      store.console.useCode('code-race', T0 + 1),
      store.console.useCode('code-race', T0 + 1),
    ]);
    assert.deepEqual(
      results.filter((r) => r !== undefined),
      ['tok-admin'],
    );
  });

  it('keeps a session until it expires or is closed', async () => {
    const session = { tokenId: 'tok-admin', createdAtMs: T0, expiresAtMs: T0 + 60_000 };
    await store.console.openSession('s-1', session);
    await store.console.openSession('s-2', session);
    assert.deepEqual(await store.console.session('s-1', T0 + 59_999), session);
    assert.equal(await store.console.session('s-1', T0 + 60_000), undefined, 'expired at its expiry');
    await store.console.closeSession('s-2');
    assert.equal(await store.console.session('s-2', T0 + 1), undefined, 'closed');
    await store.console.closeSession('s-2'); // closing again is not an error
  });
});
