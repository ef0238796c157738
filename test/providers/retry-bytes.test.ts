import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { Controller } from '../../src/autoscaler/controller.ts';
import type { Clock, ManualClock } from '../../src/core/clock.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { BuiltinPool } from '../../src/pool/builtin/builtin-pool.ts';
import { GcpComputeProvider } from '../../src/providers/gcp-compute/gcp-compute-provider.ts';
import type { CloudProvider } from '../../src/providers/provider.ts';
import { GceEmulator, EMULATOR_ACCESS_TOKEN } from '../emulators/gce/gce-emulator.ts';
import { PASS_MS, startControllerFixture, type ControllerFixture } from './aws-ec2/controller-fixture.ts';
import { CLUSTER } from './aws-ec2/fixture.ts';
import { catalogBook, gceProviderConfig, UNTHROTTLED } from './gcp-compute/fixture.ts';
import { asyncOf } from '../helpers/async-store.ts';

/** A second controller on the fixture's store, as a restart with the API on another port would build it. */
function restarted(fx: ControllerFixture, providers: readonly CloudProvider[], controllerUrl: string): Controller {
  fx.store.lease.release('controller', 'test-controller');
  return new Controller({
    store: asyncOf(fx.store),
    pool: new BuiltinPool({ store: asyncOf(fx.store), logger: silentLogger(), lostAfterMs: 3_600_000 }),
    providers,
    clock: fx.clock,
    logger: silentLogger(),
    settings: { passIntervalMs: PASS_MS, reconcileEveryPasses: 10, leaseTtlMs: 60_000, unavailableForMs: 180_000 },
    identity: {
      holderId: 'restarted-controller',
      launch: { clusterId: CLUSTER, controllerUrl, caBundle: '', serverSecret: fx.store.meta.serverSecret() },
    },
  });
}

describe('a retried launch sends the bytes of its first send, after a restart with another port too', () => {
  let fx: ControllerFixture | undefined;
  let gce: GceEmulator | undefined;
  let gceProvider: GcpComputeProvider | undefined;
  let second: Controller | undefined;

  afterEach(async () => {
    await second?.stop();
    await fx?.close();
    await gceProvider?.close();
    await gce?.close();
    fx = gce = gceProvider = second = undefined;
  });

  it('EC2: the user data of the resent RunInstances is byte-identical, so EC2 honours the ClientToken', async () => {
    // Its controller URL is http://127.0.0.1:1. The new instance stays out of lists for a minute, so the restarted
    // controller's reconcile cannot adopt it and the launch is sent again.
    fx = await startControllerFixture({
      emulator: { realism: { eventualConsistency: { newHiddenMs: 60_000, deletedListedMs: 0 } } },
    });
    fx.submit(1);
    fx.emulator.injectFault({ kind: 'lose-response', action: 'RunInstances' });
    await fx.pass();
    const [intent] = fx.store.intents.launches(0);
    assert.equal(intent!.state, 'pending', 'the answer was lost');
    await fx.controller.stop();

    second = restarted(fx, [fx.aws], 'http://127.0.0.1:2');
    fx.clock.advance(PASS_MS * 2);
    await second.runPass();
    await second.settle();

    const calls = fx.emulator.calls.filter((c) => c.action === 'RunInstances');
    assert.deepEqual(
      calls.map((c) => [c.status, c.code]),
      [
        [0, undefined],
        [200, undefined],
      ],
      'no IdempotentParameterMismatch',
    );
    assert.ok(calls[0]!.userData && calls[0]!.userData.length > 0);
    assert.equal(calls[1]!.userData, calls[0]!.userData, 'byte-identical user data');
    const script = Buffer.from(calls[1]!.userData!, 'base64').toString('utf8');
    assert.match(script, /127\.0\.0\.1:1\b/, 'the first URL');
    assert.doesNotMatch(script, /127\.0\.0\.1:2\b/);
    assert.equal((fx.store.intents.get(intent!.id) as LaunchIntent).state, 'done');
    assert.equal(fx.emulator.instances().length, 1);
  });

  it('GCE: the startup script of the resent insert is byte-identical', async () => {
    let clockRef: ManualClock | undefined;
    const shared: Clock = { now: () => clockRef!.now(), sleep: (ms, o) => clockRef!.sleep(ms, o) };
    // The new instance stays out of lists for a minute: the restarted adapter's lookup misses it and sends again.
    gce = await GceEmulator.start({
      clock: shared,
      rateQuotas: false,
      realism: { ignoreFilters: true, eventualConsistency: { newHiddenMs: 60_000, deletedListedMs: 0 } },
    });
    const book = await catalogBook();
    const makeGce = (clock: ManualClock): GcpComputeProvider =>
      new GcpComputeProvider({
        config: gceProviderConfig(gce!, {
          rateLimits: UNTHROTTLED,
          zones: ['us-central1-a'],
          instanceTypes: [{ instanceType: 'e2-standard-2' }],
        }),
        clock,
        logger: silentLogger(),
        accessToken: EMULATOR_ACCESS_TOKEN,
        priceBook: book,
      });
    fx = await startControllerFixture({
      config: { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] },
      others: (clock) => {
        clockRef = clock;
        gceProvider = makeGce(clock);
        return [gceProvider];
      },
    });
    fx.submit(1);
    gce.injectFault({ kind: 'lose-response', action: 'insert' });
    await fx.pass();
    const [intent] = fx.store.intents.launches(0);
    assert.equal(intent!.providerId, 'gcp-compute:us-central1');
    assert.equal(intent!.state, 'pending');
    await fx.controller.stop();

    const restartedGce = makeGce(fx.clock);
    try {
      second = restarted(fx, [fx.aws, restartedGce], 'http://127.0.0.1:2');
      fx.clock.advance(PASS_MS * 2);
      await second.runPass();
      await second.settle();
    } finally {
      await restartedGce.close();
    }
    const inserts = gce.callsOf('insert');
    assert.equal(inserts.length, 2, 'the lookup missed the hidden instance, so the insert was sent again');
    assert.equal(inserts[1]!.body, inserts[0]!.body, 'byte-identical request, startup script included');
    assert.match(inserts[0]!.body!, /127\.0\.0\.1:1\b/);
    assert.equal(gce.history().length, 1, 'one instance, by requestId');
    assert.equal((fx.store.intents.get(intent!.id) as LaunchIntent).state, 'done');
  });
});
