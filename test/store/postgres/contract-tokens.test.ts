import assert from 'node:assert/strict';
import { beforeEach, it } from 'mocha';
import type { Agent } from '../../../src/core/agent.ts';
import { ConflictError, NotFoundError } from '../../../src/core/errors.ts';
import type { NewAgent, TokenRecord } from '../../../src/store/store.ts';
import { T0, privateAgent } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/tokens.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */

/** Inserts a registered private agent. */
async function addAgent(store: ContractStore, overrides: Partial<NewAgent> = {}, nowMs = T0): Promise<Agent> {
  return store.agents.insert(privateAgent(overrides), nowMs);
}

describeEachEngine('store contract: tokens', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  const record = (id: string, overrides: Partial<TokenRecord> = {}): Omit<TokenRecord, 'revokedAtMs'> => ({
    id,
    role: 'submitter',
    name: `token ${id}`,
    agentId: null,
    createdAtMs: T0,
    ...overrides,
  });

  it('stores a token by its hash and finds it by hash or id', async () => {
    const created = await store.tokens.create(record('tok-1', { role: 'admin' }), 'hash-1');
    assert.deepEqual(created, { ...record('tok-1', { role: 'admin' }), revokedAtMs: null });
    assert.deepEqual(await store.tokens.byHash('hash-1'), created);
    assert.deepEqual(await store.tokens.get('tok-1'), created);
    assert.equal(await store.tokens.byHash('hash-2'), undefined);
    assert.equal(await store.tokens.get('tok-2'), undefined);
  });

  it('refuses a duplicate id or hash', async () => {
    await store.tokens.create(record('tok-1'), 'hash-1');
    await assert.rejects(async () => await store.tokens.create(record('tok-1'), 'hash-2'), ConflictError);
    await assert.rejects(async () => await store.tokens.create(record('tok-2'), 'hash-1'), ConflictError);
    assert.deepEqual(
      (await store.tokens.list()).map((t) => t.id),
      ['tok-1'],
    );
  });

  it('lists tokens oldest first', async () => {
    await store.tokens.create(record('tok-b', { createdAtMs: T0 + 1 }), 'hb');
    await store.tokens.create(record('tok-a', { createdAtMs: T0 }), 'ha');
    assert.deepEqual(
      (await store.tokens.list()).map((t) => t.id),
      ['tok-a', 'tok-b'],
    );
  });

  it('revokes a token once, keeping the first revocation time', async () => {
    await store.tokens.create(record('tok-1'), 'hash-1');
    assert.equal((await store.tokens.revoke('tok-1', T0 + 5)).revokedAtMs, T0 + 5);
    assert.equal((await store.tokens.revoke('tok-1', T0 + 9)).revokedAtMs, T0 + 5);
    assert.equal((await store.tokens.byHash('hash-1'))!.revokedAtMs, T0 + 5);
    await assert.rejects(async () => await store.tokens.revoke('tok-nope', T0), NotFoundError);
  });

  it("revokes every token of one agent and no other's", async () => {
    const agent = await addAgent(store);
    await store.tokens.create(record('tok-1', { role: 'agent', agentId: agent.id }), 'h1');
    await store.tokens.create(record('tok-2', { role: 'agent', agentId: agent.id }), 'h2');
    await store.tokens.create(record('tok-3'), 'h3');
    await store.tokens.revokeForAgent(agent.id, T0 + 7);
    assert.deepEqual(
      (await store.tokens.list()).map((t) => [t.id, t.revokedAtMs]),
      [
        ['tok-1', T0 + 7],
        ['tok-2', T0 + 7],
        ['tok-3', null],
      ],
    );
  });
});
