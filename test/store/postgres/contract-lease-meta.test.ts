import assert from 'node:assert/strict';
import { it } from 'mocha';
import { ConflictError, NotFoundError } from '../../../src/core/errors.ts';
import { waitFor } from '../../helpers/wait.ts';
import { describeEachEngine } from './engines.ts';

/**
 * Cases of the asynchronous port that both engines must pass alike. Times are the real clock: SQLite compares the
 * callers' `nowMs`, PostgreSQL its own clock, and on one machine both are now.
 */
const LONG_TTL_MS = 60_000;
const SHORT_TTL_MS = 200;

describeEachEngine('store contract: lease', (engine) => {
  it('lets only one of two handles hold the lease', async () => {
    const a = await engine().open();
    const b = await engine().open();
    assert.equal(await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS), true);
    assert.equal(await b.lease.acquire('controller', 'ctl-b', Date.now(), LONG_TTL_MS), false);
    assert.equal(await a.lease.holder('controller', Date.now()), 'ctl-a');
    assert.equal(await b.lease.holder('controller', Date.now()), 'ctl-a');
  });

  it('renews for its holder and keeps the other out', async () => {
    const a = await engine().open();
    const b = await engine().open();
    await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS);
    assert.equal(await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS), true);
    assert.equal(await b.lease.acquire('controller', 'ctl-b', Date.now(), LONG_TTL_MS), false);
  });

  it('hands the lease to the other handle once its ttl has passed', async () => {
    const a = await engine().open();
    const b = await engine().open();
    const start = Date.now();
    assert.equal(await a.lease.acquire('controller', 'ctl-a', start, SHORT_TTL_MS), true);
    await waitFor('ctl-b to take the lease', () => b.lease.acquire('controller', 'ctl-b', Date.now(), LONG_TTL_MS), {
      intervalMs: 20,
    });
    assert.ok(Date.now() - start >= SHORT_TTL_MS);
    assert.equal(await a.lease.holder('controller', Date.now()), 'ctl-b');
    assert.equal(await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS), false);
  });

  it('lets the other handle take the lease at once after a release, and ignores a release by a non-holder', async () => {
    const a = await engine().open();
    const b = await engine().open();
    await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS);
    await b.lease.release('controller', 'ctl-b');
    assert.equal(await b.lease.holder('controller', Date.now()), 'ctl-a');
    await a.lease.release('controller', 'ctl-a');
    assert.equal(await b.lease.holder('controller', Date.now()), undefined);
    assert.equal(await b.lease.acquire('controller', 'ctl-b', Date.now(), LONG_TTL_MS), true);
  });

  it('keeps leases of different names apart', async () => {
    const a = await engine().open();
    const b = await engine().open();
    await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS);
    assert.equal(await b.lease.acquire('reporter', 'ctl-b', Date.now(), LONG_TTL_MS), true);
    assert.equal(await b.lease.holder('controller', Date.now()), 'ctl-a');
    assert.equal(await a.lease.holder('reporter', Date.now()), 'ctl-b');
  });
});

describeEachEngine('store contract: meta', (engine) => {
  it('fixes the cluster id on first bind and refuses another, keeping the first', async () => {
    const a = await engine().open();
    const b = await engine().open();
    await assert.rejects(a.meta.clusterId(), NotFoundError);
    await a.meta.bindClusterId('cluster-1');
    await b.meta.bindClusterId('cluster-1');
    await assert.rejects(b.meta.bindClusterId('cluster-2'), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.match(err.message, /belongs to cluster 'cluster-1', not 'cluster-2'/);
      return true;
    });
    assert.equal(await b.meta.clusterId(), 'cluster-1');
  });

  it('creates one 32-byte server secret that every handle reads alike', async () => {
    const a = await engine().open();
    const b = await engine().open();
    const [first, second] = await Promise.all([a.meta.serverSecret(), b.meta.serverSecret()]);
    assert.equal(first.length, 32);
    assert.deepEqual(second, first);
    assert.deepEqual(await a.meta.serverSecret(), first);
  });
});

describeEachEngine('store contract: transactions', (engine) => {
  it('commits every write of a transaction callback together', async () => {
    const a = await engine().open();
    const b = await engine().open();
    await a.transaction(async () => {
      await a.meta.bindClusterId('cluster-1');
      await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS);
    });
    assert.equal(await b.meta.clusterId(), 'cluster-1');
    assert.equal(await b.lease.holder('controller', Date.now()), 'ctl-a');
  });

  it('undoes every write of a callback that throws, across its awaits', async () => {
    const a = await engine().open();
    await assert.rejects(
      a.transaction(async () => {
        await a.meta.bindClusterId('cluster-1');
        await new Promise((resolve) => setImmediate(resolve));
        await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS);
        throw new Error('boom');
      }),
      /boom/,
    );
    await assert.rejects(a.meta.clusterId(), NotFoundError);
    assert.equal(await a.lease.holder('controller', Date.now()), undefined);
  });

  it('undoes only its own writes when a nested transaction throws', async () => {
    const a = await engine().open();
    await a.transaction(async () => {
      await a.meta.bindClusterId('cluster-1');
      await assert.rejects(
        a.transaction(async () => {
          await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS);
          throw new Error('inner');
        }),
        /inner/,
      );
    });
    assert.equal(await a.meta.clusterId(), 'cluster-1');
    assert.equal(await a.lease.holder('controller', Date.now()), undefined);
  });

  it('never shows a call from outside a write its transaction rolled back', async () => {
    const a = await engine().open();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let wrote: () => void = () => undefined;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const tx = a.transaction(async () => {
      await a.lease.acquire('controller', 'ctl-a', Date.now(), LONG_TTL_MS);
      wrote();
      await gate;
      throw new Error('rolled back');
    });
    await written;
    // The same handle, from outside the callback: another request of the same controller.
    const outside = a.lease.holder('controller', Date.now());
    release();
    await assert.rejects(tx, /rolled back/);
    assert.equal(await outside, undefined);
    assert.equal(await a.lease.holder('controller', Date.now()), undefined);
  });
});
