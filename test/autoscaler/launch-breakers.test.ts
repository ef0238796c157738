import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'mocha';
import { Controller, type ControllerSettings } from '../../src/autoscaler/controller.ts';
import { LaunchBreakers } from '../../src/autoscaler/launch-breakers.ts';
import { Provisioner } from '../../src/autoscaler/provisioner.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { AuthError, ProviderError, RefusedError, type Refusal } from '../../src/core/errors.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import { offeringKey } from '../../src/core/offering.ts';
import { PRODUCTION_POLICY } from '../../src/core/policy.ts';
import { resources } from '../../src/core/resources.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { offering } from '../fakes/builders.ts';
import { FakeProvider } from '../fakes/fake-provider.ts';
import { captureLogs } from '../helpers/log-capture.ts';
import { asyncOf } from '../helpers/async-store.ts';

const MIN = 60_000;
const a1 = offering({ providerId: 'fake:a', provider: 'fake', instanceType: 'f.small', pricePerHourMicros: 100_000 });
const a2 = offering({ providerId: 'fake:a', provider: 'fake', instanceType: 'f.medium', pricePerHourMicros: 150_000 });
const b1 = offering({ providerId: 'fake:b', provider: 'fake', instanceType: 'g.small', pricePerHourMicros: 200_000 });
const target = (o: typeof a1) => ({ providerId: o.providerId, offeringKey: offeringKey(o) });
const WIDE: Refusal = { scope: 'provider', code: 'AuthFailure', message: 'bad credentials' };
const NARROW: Refusal = { scope: 'offering', code: 'InvalidParameterValue', subject: 'f.small', message: 'no such type' };

describe('launch breakers', () => {
  it('lets exactly one trial through a due breaker, and holds the others with the reason', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0));
    const logs = captureLogs();
    const breakers = new LaunchBreakers({ clock, logger: logs.logger });
    breakers.record(target(a1), { kind: 'refused', refusal: WIDE });
    // A second call that was in flight is refused too: still one breaker, opened once.
    breakers.record(target(a2), { kind: 'refused', refusal: WIDE });
    assert.equal(logs.lines().filter((l) => l.message === 'opened launch breaker').length, 1);
    assert.deepEqual(breakers.gate(target(a2)), {
      go: false,
      reason: 'fake:a refuses launches: AuthFailure; next try 12:01',
      untilMs: clock.now() + MIN,
    });
    assert.deepEqual(breakers.gate(target(b1)), { go: true }, 'another provider is not held');

    clock.advance(MIN);
    assert.deepEqual(breakers.gate(target(a1)), { go: true });
    assert.deepEqual(breakers.gate(target(a2)), {
      go: false,
      reason: 'fake:a refuses launches: AuthFailure; trying again now',
      untilMs: clock.now() + 1_000,
    });
    breakers.record(target(a1), { kind: 'refused', refusal: WIDE });
    assert.equal(breakers.list()[0]!.retryAtMs, clock.now() + 2 * MIN);

    clock.advance(2 * MIN);
    assert.deepEqual(breakers.gate(target(a1)), { go: true });
    breakers.record(target(a1), { kind: 'undecided' });
    assert.equal(breakers.list()[0]!.state, 'open');
    assert.deepEqual(breakers.gate(target(a2)), { go: true }, 'an undecided trial leaves the breaker due');
    breakers.record(target(a2), { kind: 'accepted' });
    assert.deepEqual(breakers.list(), []);
    assert.deepEqual(
      logs.lines().map((l) => l.message).filter((m) => String(m).includes('breaker')),
      [
        'opened launch breaker',
        'trying a launch through an open breaker',
        'launch breaker stays open',
        'trying a launch through an open breaker',
        'launch breaker trial undecided',
        'trying a launch through an open breaker',
        'closed launch breaker',
      ],
    );
  });

  it("decides a breaker by its trial's verdict only: a call in flight since before it opened ends without effect", () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0));
    const breakers = new LaunchBreakers({ clock, logger: silentLogger() });
    // Calls 'early-1' and 'early-2' went before the refusal; 'refused' opened the breaker.
    assert.deepEqual(breakers.gate(target(a1), 'early-1'), { go: true });
    assert.deepEqual(breakers.gate(target(a1), 'early-2'), { go: true });
    breakers.record(target(a1), { kind: 'refused', refusal: WIDE }, 'refused');
    clock.advance(MIN);
    assert.deepEqual(breakers.gate(target(a1), 'trial'), { go: true });
    // The early calls end while the trial runs: throttled, then refused. Neither decides the trial.
    breakers.record(target(a1), { kind: 'undecided' }, 'early-1');
    breakers.record(target(a2), { kind: 'refused', refusal: WIDE }, 'early-2');
    const [held] = breakers.list();
    assert.deepEqual([held?.state, held?.refusals, held?.backoffMs], ['trying', 1, MIN]);
    assert.equal(breakers.gate(target(a2), 'second').go, false, 'one trial at a time');
    // The trial's own refusal doubles the backoff.
    breakers.record(target(a1), { kind: 'refused', refusal: WIDE }, 'trial');
    const [reopened] = breakers.list();
    assert.deepEqual([reopened?.state, reopened?.refusals, reopened?.retryAtMs], ['open', 2, clock.now() + 2 * MIN]);
    // The next trial, throttled, is due again at once.
    clock.advance(2 * MIN);
    assert.deepEqual(breakers.gate(target(a2), 'trial-2'), { go: true });
    breakers.record(target(a2), { kind: 'undecided' }, 'trial-2');
    assert.deepEqual(breakers.gate(target(a1), 'trial-3'), { go: true });
  });

  it('holds a whole provider for a provider refusal and one offering for an offering refusal', () => {
    const clock = new ManualClock();
    const breakers = new LaunchBreakers({ clock, logger: silentLogger(), settings: { initialMs: 5 * MIN } });
    breakers.record(target(a1), { kind: 'refused', refusal: NARROW });
    assert.deepEqual([...breakers.blocked([a1, a2, b1]).keys()], [offeringKey(a1)]);
    breakers.record(target(b1), { kind: 'refused', refusal: { ...WIDE } });
    assert.deepEqual([...breakers.blocked([a1, a2, b1]).keys()], [offeringKey(a1), offeringKey(b1)]);
    clock.advance(5 * MIN);
    assert.deepEqual([...breakers.blocked([a1, a2, b1]).keys()], [], 'due breakers let the next plan try');
    assert.equal(breakers.reset('fake:b', 'fixed'), 1);
    assert.deepEqual(breakers.list().map((b) => b.key), [offeringKey(a1)]);
  });
});

describe('controller with refusing providers', () => {
  let dir: string | undefined;
  let store: Store | undefined;

  afterEach(() => {
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
    store = undefined;
  });

  function setup(providers: FakeProvider[], clock: ManualClock, backoff: Partial<ControllerSettings> = {}): Controller {
    dir = mkdtempSync(join(tmpdir(), 'spillway-breakers-'));
    store = openSqliteStore(join(dir, 'spillway.db'));
    store.meta.bindClusterId('test-cluster');
    store.policy.seed({ ...PRODUCTION_POLICY, pendingGraceMs: 0 }, clock.now());
    const s = store;
    return new Controller({
      store: asyncOf(s),
      pool: new BuiltinPool({ store: asyncOf(s), logger: silentLogger(), lostAfterMs: 3_600_000 }),
      providers,
      clock,
      logger: silentLogger(),
      settings: { passIntervalMs: 1_000, reconcileEveryPasses: 100, leaseTtlMs: 60_000, unavailableForMs: 60_000, ...backoff },
      identity: {
        holderId: 'c1',
        launch: { clusterId: 'test-cluster', controllerUrl: 'http://127.0.0.1:1', caBundle: '', serverSecret: s.meta.serverSecret() },
      },
    });
  }

  function task() {
    return {
      owner: { team: 'ml', project: 'p', job: 'j' },
      resources: resources({ cpuMillis: 1000, memoryMiB: 1024 }),
      priority: 0,
      revocable: false,
      constraints: {},
      command: ['true'],
    };
  }

  it('fails over to the next offering of the same provider when one instance type is refused', async () => {
    const clock = new ManualClock();
    const fake = new FakeProvider({ id: 'fake:a', offerings: [a1, a2], now: () => clock.now() });
    const c = setup([fake], clock);
    store!.tasks.insert([task()], clock.now());
    fake.failNext('launch', new RefusedError('no such type', { scope: 'offering', code: 'InvalidParameterValue' }));
    await c.runPass();
    await c.settle();
    clock.advance(1_000);
    await c.runPass();
    await c.settle();
    assert.deepEqual(
      fake.launchCalls().map((r) => r.offering.instanceType),
      ['f.small', 'f.medium'],
    );
    const intents = store!.intents.launches(0) as LaunchIntent[];
    assert.deepEqual(intents.map((i) => i.state), ['failed', 'done']);
    assert.deepEqual(c.breakers().map((b) => b.key), [offeringKey(a1)]);
    await c.stop();
  });

  it('fails over to another provider when one refuses every launch (authentication)', async () => {
    const clock = new ManualClock();
    const fa = new FakeProvider({ id: 'fake:a', offerings: [a1], now: () => clock.now() });
    const fb = new FakeProvider({ id: 'fake:b', offerings: [b1], now: () => clock.now() });
    const c = setup([fa, fb], clock);
    store!.tasks.insert([task()], clock.now());
    fa.failNext('launch', new AuthError('bad credentials', { code: 'AuthFailure' }));
    await c.runPass();
    await c.settle();
    clock.advance(1_000);
    await c.runPass();
    await c.settle();
    assert.equal(fa.launchCalls().length, 1);
    assert.deepEqual(fb.launchCalls().map((r) => r.offering.instanceType), ['g.small']);
    assert.deepEqual(c.breakers().map((b) => [b.key, b.scope, b.code]), [['fake:a', 'provider', 'AuthFailure']]);
    await c.stop();
  });

  it('backs off by the configured refusalBackoffMs, doubling up to refusalBackoffMaxMs', async () => {
    const clock = new ManualClock();
    const fake = new FakeProvider({ id: 'fake:a', offerings: [a1], now: () => clock.now() });
    for (let i = 0; i < 50; i++) fake.failNext('launch', new RefusedError('no subnet', { scope: 'provider', code: 'X' }));
    const c = setup([fake], clock, { refusalBackoffMs: 10_000, refusalBackoffMaxMs: 40_000 });
    store!.tasks.insert([task()], clock.now());
    const startMs = clock.now();
    const callSeconds: number[] = [];
    while (clock.now() < startMs + 120_000) {
      const before = fake.launchCalls().length;
      await c.runPass();
      await c.settle();
      if (fake.launchCalls().length > before) callSeconds.push((clock.now() - startMs) / 1_000);
      clock.advance(1_000);
    }
    // Backoffs 10, 20, 40, 40 s.
    assert.deepEqual(callSeconds, [0, 10, 30, 70, 110]);
    await c.stop();
  });
});

describe('provisioner at an open breaker', () => {
  it('keeps an intent an earlier attempt may have launched, and retries it as the trial when the breaker is due', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spillway-breakers-'));
    const store = openSqliteStore(join(dir, 'spillway.db'));
    try {
      const clock = new ManualClock();
      store.meta.bindClusterId('test-cluster');
      store.policy.seed({ ...PRODUCTION_POLICY, maxProvisionMs: 3_600_000 }, clock.now());
      const fake = new FakeProvider({ id: 'fake:a', offerings: [a1, a2], now: () => clock.now() });
      const breakers = new LaunchBreakers({ clock, logger: silentLogger() });
      const provisioner = new Provisioner({
        store: asyncOf(store),
        providers: [fake],
        clock,
        logger: silentLogger(),
        breakers,
        onUnavailable: () => undefined,
        launchContext: { clusterId: 'test-cluster', controllerUrl: 'http://127.0.0.1:1', caBundle: '', serverSecret: store.meta.serverSecret() },
      });
      const command = (o: typeof a1) => ({ kind: 'launch' as const, offering: o, count: 1, owners: [], taskIds: [], reason: 'test' });
      fake.failNext('launch', new ProviderError('no answer', { retryable: true }));
      fake.failNext('launch', new AuthError('denied', { code: 'UnauthorizedOperation' }));
      const lost = await provisioner.launch(command(a1));
      await provisioner.settle();
      const refused = await provisioner.launch(command(a2));
      await provisioner.settle();
      assert.equal(store.intents.get(refused.id)!.state, 'failed');
      assert.equal(store.intents.get(lost.id)!.attempts, 1);

      clock.advance(2_000);
      await provisioner.execute(store.intents.get(lost.id)!);
      await provisioner.settle();
      assert.equal(fake.launchCalls().length, 2, 'no call while the breaker holds');
      assert.equal(store.intents.get(lost.id)!.state, 'pending', 'the intent and its idempotency key are kept');

      clock.advance(MIN);
      await provisioner.execute(store.intents.get(lost.id)!);
      await provisioner.settle();
      assert.deepEqual(fake.launchCalls().map((r) => r.intentId), [lost.id, refused.id, lost.id]);
      assert.equal(store.intents.get(lost.id)!.state, 'done');
      assert.deepEqual(breakers.list(), [], 'the accepted trial closed the breaker');
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
