import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import type { Clock, ManualClock } from '../../../src/core/clock.ts';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { AgentRegistry } from '../../../src/pool/builtin/registry.ts';
import { GcpComputeProvider } from '../../../src/providers/gcp-compute/gcp-compute-provider.ts';
import { LABEL_INTENT } from '../../../src/providers/gcp-compute/gce-instances.ts';
import { EMULATOR_ACCESS_TOKEN, GceEmulator } from '../../emulators/gce/gce-emulator.ts';
import { PASS_MS, startControllerFixture, type ControllerFixture } from '../aws-ec2/controller-fixture.ts';
import { catalogBook, gceProviderConfig, UNTHROTTLED } from './fixture.ts';
import { FAMILY_REALISM } from '../cloud-fixture.ts';
import { asyncOf } from '../../helpers/async-store.ts';

const ONE_SUBNET = { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] };

describe('controller with AWS (EC2 emulator) and GCE (GCE emulator) both configured', () => {
  let fx: ControllerFixture | undefined;
  let gce: GceEmulator | undefined;
  let gceProvider: GcpComputeProvider | undefined;

  afterEach(async () => {
    await fx?.close();
    await gceProvider?.close();
    await gce?.close();
    fx = gce = gceProvider = undefined;
  });

  /** Both emulators and both adapters on the fixture's one manual clock. */
  async function start(
    gceConfig: Record<string, unknown>,
    opts: Parameters<typeof startControllerFixture>[0] = {},
  ): Promise<void> {
    let clockRef: ManualClock | undefined;
    const shared: Clock = { now: () => clockRef!.now(), sleep: (ms, o) => clockRef!.sleep(ms, o) };
    gce = await GceEmulator.start({ clock: shared, rateQuotas: false, realism: FAMILY_REALISM });
    const book = await catalogBook();
    fx = await startControllerFixture({
      ...opts,
      others: (clock) => {
        clockRef = clock;
        gceProvider = new GcpComputeProvider({
          config: gceProviderConfig(gce!, { rateLimits: UNTHROTTLED, ...gceConfig }),
          clock,
          logger: silentLogger(),
          accessToken: EMULATOR_ACCESS_TOKEN,
          priceBook: book,
        });
        return [gceProvider];
      },
    });
  }

  function launches(): LaunchIntent[] {
    return fx!.store.intents.launches(0);
  }

  it('fails over from a GCE stockout (reported by the operation) to AWS, the next cheapest, within one pass', async () => {
    // e2-standard-2 at $0.0670/h is cheaper than c7i.large at $0.0893/h.
    await start(
      { zones: ['us-central1-a'], instanceTypes: [{ instanceType: 'e2-standard-2' }] },
      { config: ONE_SUBNET },
    );
    gce!.setCapacity('e2-standard-2', 'us-central1-a', 'on-demand', 0);
    fx!.submit(1);

    await fx!.pass();
    const [first] = launches();
    assert.deepEqual(
      [first!.providerId, first!.offering.instanceType, first!.state],
      ['gcp-compute:us-central1', 'e2-standard-2', 'failed'],
    );
    const failedAtMs = fx!.clock.now();

    fx!.clock.advance(PASS_MS);
    await fx!.pass();
    const second = launches()[1]!;
    assert.deepEqual(
      [second.providerId, second.offering.instanceType, second.state],
      ['aws-ec2:us-east-1', 'c7i.large', 'done'],
    );
    assert.ok(second.createdAtMs - failedAtMs <= PASS_MS, 'within one pass');
    assert.equal(fx!.emulator.liveInstances().length, 1);
    assert.equal(gce!.instances().length, 0);
  });

  it('fails over from an AWS capacity error to GCE, the next cheapest, within one pass', async () => {
    // c7i.large ($0.0893/h) < n2-standard-2 ($0.0971/h) < m7i.large ($0.1008/h).
    await start(
      { zones: ['us-central1-b'], instanceTypes: [{ instanceType: 'n2-standard-2' }] },
      { config: ONE_SUBNET },
    );
    fx!.emulator.setCapacity('c7i.large', 'us-east-1a', 'on-demand', 0);
    fx!.submit(1);

    await fx!.pass();
    fx!.clock.advance(PASS_MS);
    await fx!.pass();
    assert.deepEqual(
      launches().map((l) => [l.providerId, l.offering.instanceType, l.state]),
      [
        ['aws-ec2:us-east-1', 'c7i.large', 'failed'],
        ['gcp-compute:us-central1', 'n2-standard-2', 'done'],
      ],
    );
    const [instance] = gce!.instances();
    assert.equal(instance!.labels[LABEL_INTENT], launches()[1]!.id);
    assert.equal(launches()[1]!.createdAtMs - launches()[0]!.createdAtMs, PASS_MS);
  });

  it('on a GCE preemption drains the agent, requeues its task and plans a replacement in the next pass, elsewhere', async () => {
    await start(
      { zones: ['us-central1-a'], instanceTypes: [{ instanceType: 'e2-standard-2' }] },
      { policy: { pendingGraceMs: 60_000 }, config: ONE_SUBNET },
    );
    const registry = new AgentRegistry({
      store: asyncOf(fx!.store),
      clock: fx!.clock,
      heartbeatIntervalMs: 1_000,
      pollIntervalMs: 500,
      logger: silentLogger(),
    });
    const [taskId] = fx!.submit(1, { revocable: true });
    fx!.clock.advance(60_000);
    await fx!.pass();
    const [first] = launches();
    assert.deepEqual(
      [first!.providerId, first!.offering.lifecycle],
      ['gcp-compute:us-central1', 'spot'],
      'GCE Spot is the cheapest',
    );
    const [provisioning] = fx!.store.agents.list({ states: ['provisioning'] });
    fx!.store.agents.register(
      provisioning!.id,
      { capacity: provisioning!.capacity, labels: provisioning!.labels },
      fx!.clock.now(),
    );
    fx!.clock.advance(PASS_MS);
    await fx!.pass();
    assert.equal(fx!.store.tasks.get(taskId!)!.agentId, provisioning!.id);

    gce!.preempt(fx!.store.agents.get(provisioning!.id)!.instanceId!);
    await registry.heartbeat(provisioning!.id, { runningTaskIds: [taskId!], notice: 'interruption' });
    assert.equal(fx!.store.agents.get(provisioning!.id)!.state, 'draining');
    assert.equal(fx!.store.tasks.get(taskId!)!.state, 'pending');

    fx!.clock.advance(PASS_MS);
    await fx!.pass();
    const replacement = launches()[1];
    assert.ok(replacement, 'planned at once, not after pendingGraceMs');
    assert.equal(replacement.state, 'done');
    assert.notDeepEqual(
      [replacement.providerId, replacement.offering.zone, replacement.offering.lifecycle],
      ['gcp-compute:us-central1', 'us-central1-a', 'spot'],
      'not in the Spot pool being reclaimed',
    );
  });
});
