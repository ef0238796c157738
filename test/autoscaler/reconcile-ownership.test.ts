import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { Controller } from '../../src/autoscaler/controller.ts';
import { ManualClock } from '../../src/core/clock.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { offering, policy } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { asyncOf } from '../helpers/async-store.ts';

const CLUSTER = 'test-cluster';
const small = offering({
  providerId: 'fake:test',
  provider: 'fake',
  instanceType: 'f.small',
  pricePerHourMicros: 100_000,
});

describe('reconcile checks ownership again and completes intents whose instances it finds', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  let provider: FakeProvider;
  let foreignReported: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-reconcile-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    store.meta.bindClusterId(CLUSTER);
    clock = new ManualClock();
    store.policy.seed(policy({ pendingGraceMs: 0, unknownInstanceGraceMs: 1_000 }), clock.now());
    provider = new FakeProvider({ offerings: [small], now: () => clock.now() });
    foreignReported = 0;
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function controller(): Controller {
    return new Controller({
      store: asyncOf(store),
      pool: new BuiltinPool({ store: asyncOf(store), logger: silentLogger(), lostAfterMs: 3_600_000 }),
      providers: [provider],
      clock,
      logger: silentLogger(),
      settings: { passIntervalMs: 1_000, reconcileEveryPasses: 1, leaseTtlMs: 10_000, unavailableForMs: 60_000 },
      identity: {
        holderId: 'c1',
        launch: {
          clusterId: CLUSTER,
          controllerUrl: 'http://127.0.0.1:1',
          caBundle: '',
          serverSecret: store.meta.serverSecret(),
        },
      },
      observer: { onForeignInstances: (_providerId, count) => (foreignReported += count) },
    });
  }

  /** A pending launch intent of `count`, as a crash right after its launch call leaves it. */
  function pendingIntent(count: number): LaunchIntent {
    const intent: LaunchIntent = {
      id: '6a1c8e52-0c1d-4d0e-9a57-1b7b3c1f2e01',
      kind: 'launch',
      providerId: provider.id,
      offering: small,
      count,
      owners: [],
      reason: 'test',
      state: 'pending',
      instanceIds: [],
      createdAtMs: clock.now(),
      updatedAtMs: clock.now(),
      attempts: 0,
      error: '',
    };
    store.intents.insert(intent);
    return intent;
  }

  function launchOf(intent: LaunchIntent, count = intent.count): Promise<unknown> {
    return provider.launch({
      intentId: intent.id,
      clusterId: CLUSTER,
      offering: small,
      count,
      owner: { team: 'a', project: 'b', job: 'c' },
      bootstrap: { controllerUrl: '', caBundle: '', credential: '' },
    });
  }

  it('never adopts or terminates what a filter-ignoring list returns without the cluster tag, even with our intent id', async () => {
    const intent = pendingIntent(1);
    await launchOf(intent);
    provider.listIgnoresCluster = true;
    provider.addStray('other-cluster', 'someone-else', clock.now() - 999_999);
    provider.addStray('spoofed-intent', 'someone-else', clock.now() - 999_999, intent.id);
    const c = controller();
    for (let i = 0; i < 3; i++) {
      await c.runPass();
      await c.settle();
      clock.advance(5_000);
    }
    assert.deepEqual((store.intents.get(intent.id) as LaunchIntent).instanceIds, [`fi-${intent.id.slice(0, 8)}-0`]);
    assert.ok(provider.instances.has('other-cluster'));
    assert.ok(provider.instances.has('spoofed-intent'));
    assert.equal(store.agents.byInstance(provider.id, 'spoofed-intent'), undefined, 'not adopted');
    const terminated = provider.calls
      .filter((call) => call.method === 'terminate')
      .flatMap((call) => call.arg as string[]);
    assert.deepEqual(terminated, []);
    assert.equal(foreignReported, 2 * 3, 'both counted at each of the three reconciles');

    await c.releaseAll('shutting down');
    assert.ok(provider.instances.has('other-cluster'), 'the release leaves it');
    assert.ok(provider.instances.has('spoofed-intent'), 'the release leaves it');
    assert.ok(!provider.instances.has(`fi-${intent.id.slice(0, 8)}-0`), 'the release ends our own');
    await c.stop();
  });

  it('completes a pending intent when reconcile finds all its instances: no further launch call', async () => {
    const intent = pendingIntent(2);
    await launchOf(intent);
    const c = controller();
    await c.runPass();
    await c.settle();
    const stored = store.intents.get(intent.id) as LaunchIntent;
    assert.equal(stored.state, 'done');
    assert.equal(stored.instanceIds.length, 2);
    assert.equal(provider.launchCalls().filter((r) => r.intentId === intent.id).length, 1, 'only the first call');
    assert.equal(store.agents.list({ states: ['provisioning'] }).length, 2);
    await c.stop();
  });

  it('sends a pending intent again when reconcile finds only some of its instances', async () => {
    const intent = pendingIntent(2);
    await launchOf(intent, 1); // one of two: a split launch cut short
    const c = controller();
    await c.runPass();
    await c.settle();
    assert.equal(provider.launchCalls().filter((r) => r.intentId === intent.id).length, 2, 'the launch is sent again');
    await c.stop();
  });
});
