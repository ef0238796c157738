import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { ApiMetrics } from '../../src/api/metrics.ts';
import { recordPoolGauges } from '../../src/api/pool-gauges.ts';
import { STATUS_PAGE_AGENTS } from '../../src/api/status.ts';
import type { AgentState } from '../../src/core/agent.ts';
import { resources } from '../../src/core/resources.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { agent, cloudAgent } from '../fakes/builders.ts';

/** The gauges as `state/location_kind -> value`, read back from the metrics registry. */
async function agentGauges(metrics: ApiMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.agents.get()).values) out[`${v.labels.state}/${v.labels.location_kind}`] = v.value;
  return out;
}

describe('pool gauges (GET /metrics)', () => {
  let dir: string;
  let store: SqliteStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-gauges-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Inserts `n` agents in `state`, private or cloud at `price` micro-USD an hour. */
  function insertAgents(n: number, state: AgentState, kind: 'private' | 'cloud', price = 0): void {
    store.transaction(() => {
      for (let i = 0; i < n; i++) {
        const made = kind === 'cloud' ? cloudAgent({ pricePerHourMicros: price }) : agent();
        const inserted = store.agents.insert(
          {
            name: `${kind}-${state}-${i}`,
            location: made.location,
            capacity: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
            labels: {},
            lifecycle: made.lifecycle,
            pricePerHourMicros: price,
            state: state === 'provisioning' ? 'provisioning' : 'registered',
            instanceId: kind === 'cloud' ? `i-${state}-${i}` : null,
            providerId: kind === 'cloud' ? 'aws' : null,
            intentId: null,
          },
          1_000,
        );
        if (state !== 'provisioning' && state !== 'registered')
          store.agents.setState(inserted.id, state, 'test', 2_000);
      }
    });
  }

  it('counts every agent not terminated by state and kind, over more than a page, and what the cloud costs', async () => {
    // Over two pages of agents: the gauges read them page by page.
    const registered = STATUS_PAGE_AGENTS + 203;
    insertAgents(registered, 'registered', 'private');
    insertAgents(40, 'registered', 'cloud', 250_000);
    insertAgents(3, 'draining', 'cloud', 1_000_000);
    insertAgents(2, 'lost', 'cloud', 7_000_000);
    insertAgents(5, 'provisioning', 'cloud', 100_000);
    insertAgents(4, 'terminated', 'cloud', 9_000_000);
    const metrics = new ApiMetrics({ defaultMetrics: false });
    await recordPoolGauges(asyncSqliteStore(store), metrics);
    assert.deepEqual(await agentGauges(metrics), {
      'registered/private': registered,
      'registered/cloud': 40,
      'draining/cloud': 3,
      'lost/cloud': 2,
      'provisioning/cloud': 5,
    });
    // Cloud agents not lost nor terminated: 40 x $0.25 + 3 x $1 + 5 x $0.10.
    assert.equal((await metrics.cloudSpendPerHourUsd.get()).values[0]?.value, 10 + 3 + 0.5);
  });

  it("counts the leading controller's model when given, and the store's pending tasks, replacing the last counts", async () => {
    insertAgents(7, 'registered', 'private');
    const metrics = new ApiMetrics({ defaultMetrics: false });
    const async = asyncSqliteStore(store);
    await recordPoolGauges(async, metrics);
    assert.deepEqual(await agentGauges(metrics), { 'registered/private': 7 });
    const model = [
      cloudAgent({ state: 'registered', pricePerHourMicros: 500_000 }),
      cloudAgent({ state: 'draining', pricePerHourMicros: 500_000 }),
    ];
    store.tasks.insert(
      [1, 2, 3].map((i) => ({
        owner: { team: 't', project: 'p', job: `j${i}` },
        resources: resources({ cpuMillis: 100, memoryMiB: 64 }),
        priority: 0,
        revocable: false,
        constraints: {},
        command: ['true'],
      })),
      3_000,
    );
    await recordPoolGauges(async, metrics, model);
    assert.deepEqual(await agentGauges(metrics), { 'registered/cloud': 1, 'draining/cloud': 1 });
    assert.equal((await metrics.cloudSpendPerHourUsd.get()).values[0]?.value, 1);
    assert.equal((await metrics.pendingTasks.get()).values[0]?.value, 3);
  });
});
