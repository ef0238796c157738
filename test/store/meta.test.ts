import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { ConflictError, NotFoundError } from '../../src/core/errors.ts';
import { TempStores } from './helpers.ts';

describe('sqlite store: meta', () => {
  let temp: TempStores;

  beforeEach(() => {
    temp = new TempStores();
  });
  afterEach(() => temp.cleanup());

  it('fixes the cluster id on first start and accepts the same id again', () => {
    const store = temp.open();
    assert.throws(() => store.meta.clusterId(), NotFoundError);
    store.meta.bindClusterId('prod');
    store.meta.bindClusterId('prod');
    assert.equal(temp.open().meta.clusterId(), 'prod');
  });

  it('refuses to bind a store to a second cluster', () => {
    temp.open().meta.bindClusterId('a');
    const store = temp.open();
    assert.throws(
      () => store.meta.bindClusterId('b'),
      (err: unknown) =>
        err instanceof ConflictError && err.message === "opening the store: it belongs to cluster 'a', not 'b'",
    );
    assert.equal(store.meta.clusterId(), 'a');
  });

  it('creates a 32-byte server secret once and keeps it across handles and reopenings', () => {
    const first = temp.open();
    const secret = first.meta.serverSecret();
    assert.equal(secret.length, 32);
    assert.notDeepEqual(secret, Buffer.alloc(32));
    assert.deepEqual(first.meta.serverSecret(), secret);
    assert.deepEqual(temp.open().meta.serverSecret(), secret);
  });
});
