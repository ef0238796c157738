import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores } from './helpers.ts';

describe('sqlite store: lease', () => {
  const TTL_MS = 10_000;
  let temp: TempStores;
  let a: Store;
  let b: Store;

  beforeEach(() => {
    temp = new TempStores();
    a = temp.open();
    b = temp.open();
  });
  afterEach(() => temp.cleanup());

  it('lets only one of two handles on one file hold the lease', () => {
    assert.equal(a.lease.acquire('controller', 'ctl-a', T0, TTL_MS), true);
    assert.equal(b.lease.acquire('controller', 'ctl-b', T0 + 1, TTL_MS), false);
    assert.equal(a.lease.holder('controller', T0 + 2), 'ctl-a');
    assert.equal(b.lease.holder('controller', T0 + 2), 'ctl-a');
  });

  it('renews for its holder and keeps others out until it expires', () => {
    a.lease.acquire('controller', 'ctl-a', T0, TTL_MS);
    assert.equal(a.lease.acquire('controller', 'ctl-a', T0 + 5_000, TTL_MS), true);
    assert.equal(b.lease.acquire('controller', 'ctl-b', T0 + TTL_MS, TTL_MS), false);
    assert.equal(b.lease.acquire('controller', 'ctl-b', T0 + 5_000 + TTL_MS, TTL_MS), true);
    assert.equal(a.lease.holder('controller', T0 + 5_000 + TTL_MS), 'ctl-b');
    assert.equal(a.lease.acquire('controller', 'ctl-a', T0 + 5_000 + TTL_MS + 1, TTL_MS), false);
  });

  it('lets the other handle take the lease at once after a release', () => {
    a.lease.acquire('controller', 'ctl-a', T0, TTL_MS);
    a.lease.release('controller', 'ctl-a');
    assert.equal(b.lease.holder('controller', T0 + 1), undefined);
    assert.equal(b.lease.acquire('controller', 'ctl-b', T0 + 1, TTL_MS), true);
  });

  it('ignores a release by a handle that does not hold the lease', () => {
    a.lease.acquire('controller', 'ctl-a', T0, TTL_MS);
    b.lease.release('controller', 'ctl-b');
    assert.equal(b.lease.holder('controller', T0 + 1), 'ctl-a');
  });

  it('reports no holder for an expired lease and keeps leases of different names apart', () => {
    a.lease.acquire('controller', 'ctl-a', T0, TTL_MS);
    assert.equal(a.lease.holder('controller', T0 + TTL_MS), undefined);
    assert.equal(b.lease.acquire('reporter', 'ctl-b', T0, TTL_MS), true);
    assert.equal(a.lease.holder('controller', T0), 'ctl-a');
  });
});
