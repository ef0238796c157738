import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'mocha';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import { TAG_INTENT } from '../../../src/providers/aws-ec2/launch-input.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { AgentRegistry } from '../../../src/pool/builtin/registry.ts';
import { offering } from '../../fakes/builders.ts';
import { FakeProvider } from '../../fakes/fake-provider.ts';
import { PASS_MS, startControllerFixture, type ControllerFixture } from './controller-fixture.ts';
import { CLUSTER } from './fixture.ts';
import { asyncOf } from '../../helpers/async-store.ts';

describe('controller with the aws-ec2 provider against the emulator', () => {
  let fx: ControllerFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  function launches(): LaunchIntent[] {
    return fx!.store.intents.launches(0);
  }

  it('launches exactly once when a RunInstances answer is lost: the retry reuses the intent id as ClientToken', async () => {
    fx = await startControllerFixture();
    fx.submit(2); // two tasks that one c7i.large holds
    fx.emulator.injectFault({ kind: 'lose-response', action: 'RunInstances' });

    await fx.pass();
    assert.equal(fx.emulator.instances().length, 1, 'the lost call took effect');
    const [intent] = launches();
    assert.equal(intent!.state, 'pending', 'the controller does not know it yet');
    assert.equal(intent!.attempts, 1);

    fx.clock.advance(PASS_MS);
    await fx.pass();
    assert.equal(fx.emulator.instances().length, 1, 'no second instance');
    const done = fx.store.intents.get(intent!.id) as LaunchIntent;
    assert.equal(done.state, 'done');
    assert.deepEqual(
      done.instanceIds,
      fx.emulator.instances().map((i) => i.id),
    );
    assert.equal(fx.emulator.instances()[0]!.tags.get(TAG_INTENT), intent!.id);
    assert.deepEqual(
      fx.emulator.calls.filter((c) => c.action === 'RunInstances').map((c) => [c.status, c.effective]),
      [
        [0, true],
        [200, true],
      ],
    );
    assert.equal(fx.store.agents.list({ states: ['provisioning'] }).length, 1);
    assert.equal(launches().length, 1, 'no second plan while the first was in doubt');
  });

  it('fails over to the same type in the next zone in the pass after InsufficientInstanceCapacity', async () => {
    fx = await startControllerFixture();
    fx.emulator.setCapacity('c7i.large', 'us-east-1a', 'on-demand', 0);
    fx.submit(1);

    await fx.pass();
    const [first] = launches();
    assert.equal(first!.offering.instanceType, 'c7i.large');
    assert.equal(first!.offering.zone, 'us-east-1a');
    assert.equal(first!.state, 'failed');
    const failedAtMs = fx.clock.now();

    fx.clock.advance(PASS_MS);
    await fx.pass();
    const second = launches()[1]!;
    assert.equal(second.state, 'done');
    assert.equal(second.offering.instanceType, 'c7i.large');
    assert.equal(second.offering.zone, 'us-east-1b');
    assert.ok(second.createdAtMs - failedAtMs <= PASS_MS, 'within one pass');
    assert.equal(fx.emulator.liveInstances().length, 1);
  });

  it('fails over to the next cheapest type when the cheapest has no capacity in the only zone', async () => {
    fx = await startControllerFixture({
      config: { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] },
    });
    fx.emulator.setCapacity('c7i.large', 'us-east-1a', 'on-demand', 0);
    fx.submit(1);
    await fx.pass();
    fx.clock.advance(PASS_MS);
    await fx.pass();
    assert.deepEqual(
      launches().map((l) => [l.offering.instanceType, l.state]),
      [
        ['c7i.large', 'failed'],
        ['m7i.large', 'done'],
      ],
    );
  });

  it('fails over to another provider when AWS has no capacity for any fitting offering', async () => {
    const fake = offering({
      providerId: 'fake:dc2',
      provider: 'fake',
      instanceType: 'f.big',
      capacity: { cpuMillis: 4000, memoryMiB: 16_384 },
      pricePerHourMicros: 500_000,
    });
    let other: FakeProvider | undefined;
    fx = await startControllerFixture({
      config: { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] },
      others: (clock) => [(other = new FakeProvider({ id: 'fake:dc2', offerings: [fake], now: () => clock.now() }))],
    });
    for (const type of ['c7i.large', 'm7i.large', 'm7a.large'])
      fx.emulator.setCapacity(type, 'us-east-1a', 'on-demand', 0);
    fx.submit(1, { memoryMiB: 6_000 });
    // m7i.large, then m7a.large (the only types with room for 6,000 MiB), then the other provider.
    for (let pass = 0; pass < 3; pass++) {
      await fx.pass();
      fx.clock.advance(PASS_MS);
    }
    assert.deepEqual(
      launches().map((l) => [l.providerId, l.offering.instanceType, l.state]),
      [
        ['aws-ec2:us-east-1', 'm7i.large', 'failed'],
        ['aws-ec2:us-east-1', 'm7a.large', 'failed'],
        ['fake:dc2', 'f.big', 'done'],
      ],
    );
    assert.equal(other!.instances.size, 1);
  });

  it('backs off after RequestLimitExceeded and launches on a later pass with the same intent', async () => {
    fx = await startControllerFixture();
    fx.emulator.injectFault({ kind: 'error', action: 'RunInstances', code: 'RequestLimitExceeded', status: 503 });
    fx.submit(1);
    await fx.pass();
    const [intent] = launches();
    assert.equal(intent!.state, 'pending');
    assert.match(intent!.error, /throttled/);
    fx.clock.advance(PASS_MS);
    await fx.pass();
    assert.equal((fx.store.intents.get(intent!.id) as LaunchIntent).state, 'done');
    assert.equal(launches().length, 1);
  });

  it('reconcile terminates an instance with the cluster tag that no intent launched, after the grace', async () => {
    fx = await startControllerFixture({
      policy: { unknownInstanceGraceMs: 5_000 },
      settings: { reconcileEveryPasses: 1 },
    });
    fx.submit(1);
    await fx.pass();
    const [intent] = launches();
    const [stray] = await fx.aws.launch({
      intentId: randomUUID(),
      clusterId: CLUSTER,
      offering: intent!.offering,
      count: 1,
      owner: { team: 'elsewhere', project: 'p', job: 'j' },
      bootstrap: { controllerUrl: 'http://127.0.0.1:1', caBundle: '', credential: 'swb_stray' },
    });
    fx.clock.advance(PASS_MS);
    await fx.pass();
    assert.equal(fx.emulator.liveInstances().length, 2, 'still within the grace');
    fx.clock.advance(5_000);
    await fx.pass();
    fx.clock.advance(PASS_MS);
    await fx.pass();
    assert.equal(fx.emulator.instance(stray!.id)!.state, 'terminated');
    assert.deepEqual(
      fx.emulator.liveInstances().map((i) => i.tags.get(TAG_INTENT)),
      [intent!.id],
    );
  });

  it('on a spot interruption notice drains the agent, requeues its task and plans a replacement in the next pass, elsewhere', async () => {
    fx = await startControllerFixture({ policy: { pendingGraceMs: 60_000 } });
    const registry = new AgentRegistry({
      store: asyncOf(fx.store),
      clock: fx.clock,
      heartbeatIntervalMs: 1_000,
      pollIntervalMs: 500,
      logger: silentLogger(),
    });
    const [taskId] = fx.submit(1, { revocable: true });
    fx.clock.advance(60_000);
    await fx.pass();
    const [first] = launches();
    assert.deepEqual(
      [first!.offering.instanceType, first!.offering.zone, first!.offering.lifecycle],
      ['c7i.large', 'us-east-1a', 'spot'],
    );
    // The instance's agent registers (as its boot script would) and the task is placed on it.
    const [provisioning] = fx.store.agents.list({ states: ['provisioning'] });
    fx.store.agents.register(
      provisioning!.id,
      { capacity: provisioning!.capacity, labels: provisioning!.labels },
      fx.clock.now(),
    );
    fx.clock.advance(PASS_MS);
    await fx.pass();
    assert.equal(fx.store.tasks.get(taskId!)!.agentId, provisioning!.id);

    fx.emulator.interrupt(fx.emulator.instances()[0]!.id);
    await registry.heartbeat(provisioning!.id, { runningTaskIds: [taskId!], notice: 'interruption' });
    assert.equal(fx.store.agents.get(provisioning!.id)!.state, 'draining');
    assert.equal(fx.store.tasks.get(taskId!)!.state, 'pending');

    fx.clock.advance(PASS_MS);
    await fx.pass();
    const replacement = launches()[1];
    assert.ok(replacement, 'planned at once, not after pendingGraceMs');
    assert.equal(replacement.state, 'done');
    assert.notDeepEqual(
      [replacement.offering.zone, replacement.offering.instanceType, replacement.offering.lifecycle],
      ['us-east-1a', 'c7i.large', 'spot'],
      'not in the spot pool being reclaimed',
    );
    assert.ok(fx.emulator.liveInstances().some((i) => i.tags.get(TAG_INTENT) === replacement.id));
  });
});
