import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'mocha';
import { ApiMetrics } from '../../src/api/metrics.ts';

describe('api metrics', () => {
  it('waits for a refresher that reads the store asynchronously before it exposes the gauges', async () => {
    const metrics = new ApiMetrics({ defaultMetrics: false });
    let reads = 0;
    metrics.onExposition(async () => {
      // A read through the asynchronous store answers on a later turn of the event loop (PostgreSQL's always does).
      await nextTurn();
      reads += 1;
      metrics.pendingTasks.set(10 * reads);
    });
    assert.match((await metrics.exposition()).text, /^spillway_pending_tasks 10$/m);
    assert.match((await metrics.exposition()).text, /^spillway_pending_tasks 20$/m, 'refreshed on every exposition');
  });

  it('fails the exposition when a refresher rejects, rather than exposing stale gauges', async () => {
    const metrics = new ApiMetrics({ defaultMetrics: false });
    metrics.onExposition(async () => {
      await nextTurn();
      throw new Error('the store is unreachable');
    });
    await assert.rejects(metrics.exposition(), /the store is unreachable/);
  });
});
