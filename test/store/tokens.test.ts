import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { ConflictError, NotFoundError } from '../../src/core/errors.ts';
import type { Store, TokenRecord } from '../../src/store/store.ts';
import { T0, TempStores, addAgent } from './helpers.ts';

describe('sqlite store: tokens', () => {
  let temp: TempStores;
  let store: Store;

  beforeEach(() => {
    temp = new TempStores();
    store = temp.open();
  });
  afterEach(() => temp.cleanup());

  const record = (id: string, overrides: Partial<TokenRecord> = {}): Omit<TokenRecord, 'revokedAtMs'> => ({
    id,
    role: 'submitter',
    name: `token ${id}`,
    agentId: null,
    createdAtMs: T0,
    ...overrides,
  });

  it('stores a token by its hash and finds it by hash or id', () => {
    const created = store.tokens.create(record('tok-1', { role: 'admin' }), 'hash-1');
    assert.deepEqual(created, { ...record('tok-1', { role: 'admin' }), revokedAtMs: null });
    assert.deepEqual(store.tokens.byHash('hash-1'), created);
    assert.deepEqual(store.tokens.get('tok-1'), created);
    assert.equal(store.tokens.byHash('hash-2'), undefined);
    assert.equal(store.tokens.get('tok-2'), undefined);
  });

  it('refuses a duplicate id or hash', () => {
    store.tokens.create(record('tok-1'), 'hash-1');
    assert.throws(() => store.tokens.create(record('tok-1'), 'hash-2'), ConflictError);
    assert.throws(() => store.tokens.create(record('tok-2'), 'hash-1'), ConflictError);
    assert.deepEqual(
      store.tokens.list().map((t) => t.id),
      ['tok-1'],
    );
  });

  it('lists tokens oldest first', () => {
    store.tokens.create(record('tok-b', { createdAtMs: T0 + 1 }), 'hb');
    store.tokens.create(record('tok-a', { createdAtMs: T0 }), 'ha');
    assert.deepEqual(
      store.tokens.list().map((t) => t.id),
      ['tok-a', 'tok-b'],
    );
  });

  it('revokes a token once, keeping the first revocation time', () => {
    store.tokens.create(record('tok-1'), 'hash-1');
    assert.equal(store.tokens.revoke('tok-1', T0 + 5).revokedAtMs, T0 + 5);
    assert.equal(store.tokens.revoke('tok-1', T0 + 9).revokedAtMs, T0 + 5);
    assert.equal(store.tokens.byHash('hash-1')!.revokedAtMs, T0 + 5);
    assert.throws(() => store.tokens.revoke('tok-nope', T0), NotFoundError);
  });

  it("revokes every token of one agent and no other's", () => {
    const agent = addAgent(store);
    store.tokens.create(record('tok-1', { role: 'agent', agentId: agent.id }), 'h1');
    store.tokens.create(record('tok-2', { role: 'agent', agentId: agent.id }), 'h2');
    store.tokens.create(record('tok-3'), 'h3');
    store.tokens.revokeForAgent(agent.id, T0 + 7);
    assert.deepEqual(
      store.tokens.list().map((t) => [t.id, t.revokedAtMs]),
      [
        ['tok-1', T0 + 7],
        ['tok-2', T0 + 7],
        ['tok-3', null],
      ],
    );
  });
});
