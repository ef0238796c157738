import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { TempStores } from './helpers.ts';

/**
 * The SQLite adapter shares one connection between every caller, so a call that runs while another caller's
 * transaction is open joins it. These cases start both in the same tick, as two requests or a request and a pass do,
 * and read the result through a second connection (what was committed).
 */
describe('the SQLite store through the asynchronous port, with callers started in the same tick', () => {
  let temp: TempStores;
  let store: AsyncStore;

  beforeEach(() => {
    temp = new TempStores();
    store = asyncSqliteStore(openSqliteStore(temp.path));
  });
  afterEach(async () => {
    await store.close();
    temp.cleanup();
  });

  /** The actors of the committed audit entries, oldest first, read through another connection. */
  function committedActors(): string[] {
    return temp
      .open()
      .audit.list(100)
      .map((entry) => entry.actor)
      .reverse();
  }

  function append(actor: string): Promise<void> {
    return store.audit.append({ atMs: 0, actor, action: 'test', detail: {} });
  }

  it('keeps a call from outside that starts with a transaction which then rolls back', async () => {
    const rolledBack = store.transaction(async () => {
      await append('inside-1');
      await append('inside-2');
      throw new Error('rolled back');
    });
    const outside = append('outside');
    await assert.rejects(rolledBack, /rolled back/);
    await outside;
    assert.deepEqual(committedActors(), ['outside']);
  });

  it('runs two transactions started together one after the other: the second commits when the first rolls back', async () => {
    const first = store.transaction(async () => {
      await append('first');
      throw new Error('first rolled back');
    });
    const second = store.transaction(async () => {
      await append('second-1');
      await append('second-2');
      return 'second';
    });
    await assert.rejects(first, /first rolled back/);
    assert.equal(await second, 'second');
    assert.deepEqual(committedActors(), ['second-1', 'second-2']);
  });

  it('keeps a transaction whole while a call from outside started with it waits', async () => {
    const order: string[] = [];
    const tx = store.transaction(async () => {
      await append('tx-1');
      order.push('tx-1');
      await append('tx-2');
      order.push('tx-2');
    });
    const outside = append('outside').then(() => order.push('outside'));
    await Promise.all([tx, outside]);
    assert.deepEqual(order, ['tx-1', 'tx-2', 'outside']);
    assert.deepEqual(committedActors(), ['tx-1', 'tx-2', 'outside']);
  });
});
