import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import type { Clock, ManualClock } from '../../../src/core/clock.ts';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { GcpComputeProvider } from '../../../src/providers/gcp-compute/gcp-compute-provider.ts';
import { LABEL_CLUSTER, LABEL_INTENT } from '../../../src/providers/gcp-compute/gce-instances.ts';
import { EMULATOR_ACCESS_TOKEN, GceEmulator } from '../../emulators/gce/gce-emulator.ts';
import { PASS_MS, startControllerFixture, type ControllerFixture } from '../aws-ec2/controller-fixture.ts';
import {
  CLUSTER,
  catalogBook,
  gceLaunchRequest,
  gceProviderConfig,
  startGceFixture,
  UNTHROTTLED,
  type GceFixture,
} from './fixture.ts';

const ZONE = 'us-central1-a';

/** Another cluster's VM, an unlabelled VM, and one that carries our cluster and intent labels under a foreign name. */
function addForeign(emulator: GceEmulator, intentId = '0b7c6a2e-5d4f-4e3a-8b1c-2d3e4f5a6b7c'): string[] {
  return [
    emulator.addForeignInstance({
      zone: ZONE,
      name: 'web-1',
      machineType: 'e2-standard-2',
      labels: { [LABEL_CLUSTER]: 'other-cluster', [LABEL_INTENT]: intentId },
    }),
    emulator.addForeignInstance({ zone: ZONE, name: 'db-1', machineType: 'e2-standard-2' }),
    emulator.addForeignInstance({
      zone: ZONE,
      name: 'copycat-0',
      machineType: 'e2-standard-2',
      labels: { [LABEL_CLUSTER]: CLUSTER, [LABEL_INTENT]: intentId },
    }),
  ].map((i) => `${i.zone}/${i.name}`);
}

describe('gcp-compute ownership: only instances carrying the cluster label (and the intent name) are ours', () => {
  let fx: GceFixture | undefined;
  let cfx: ControllerFixture | undefined;
  let gce: GceEmulator | undefined;
  let gceProvider: GcpComputeProvider | undefined;

  afterEach(async () => {
    await fx?.close();
    await cfx?.close();
    await gceProvider?.close();
    await gce?.close();
    fx = cfx = gce = gceProvider = undefined;
  });

  it('list drops what a filter-ignoring instances.list answers without the cluster label, and reports it', async () => {
    const reported: string[] = [];
    fx = await startGceFixture({
      emulator: { realism: { ignoreFilters: true } },
      provider: { onForeignInstances: (_id, instances) => reported.push(...instances.map((i) => i.id)) },
    });
    const foreign = addForeign(fx.emulator);
    const [own] = await fx.provider.launch(await gceLaunchRequest(fx.provider));
    reported.length = 0; // the launch's own lookup dropped them too
    const listed = (await fx.provider.list(CLUSTER)).map((i) => i.id);
    // copycat-0 carries our cluster label: a list by cluster keeps it (reconcile decides, by intent and grace).
    assert.deepEqual(listed, [foreign[2]!, own!.id].sort());
    assert.deepEqual(reported.sort(), [foreign[0]!, foreign[1]!].sort());
  });

  it('in a project with other workloads in every zone (realism foreignInstances), launches, lists and deletes its own', async () => {
    fx = await startGceFixture({ emulator: { realism: { ignoreFilters: true, foreignInstances: true } } });
    const foreign = fx.emulator.instances().map((i) => `${i.zone}/${i.name}`);
    assert.equal(foreign.length, 4);
    const own = await fx.provider.launch(await gceLaunchRequest(fx.provider, {}, { count: 2 }));
    assert.equal(fx.emulator.callsOf('bulkInsert').length, 1, 'the lookup found none of them to be the intent');
    assert.deepEqual(
      (await fx.provider.list(CLUSTER)).map((i) => i.id),
      own.map((i) => i.id).sort(),
    );
    await fx.provider.terminate(own.map((i) => i.id));
    assert.deepEqual(
      fx.emulator
        .instances()
        .map((i) => `${i.zone}/${i.name}`)
        .sort(),
      [...foreign].sort(),
    );
  });

  it('the pre-launch lookup never takes another VM in the zone for the intent: it launches its own', async () => {
    fx = await startGceFixture({ emulator: { realism: { ignoreFilters: true } } });
    const request = await gceLaunchRequest(fx.provider);
    const foreign = addForeign(fx.emulator, request.intentId);
    const launched = await fx.provider.launch(request);
    assert.deepEqual(
      launched.map((i) => i.id),
      [`${ZONE}/spw-${request.intentId}-0`],
    );
    assert.equal(fx.emulator.callsOf('insert').length, 1, 'the launch was sent');
    assert.ok(fx.emulator.instance(launched[0]!.id), 'and its instance exists');
    for (const id of foreign) assert.equal(fx.emulator.instance(id)!.status, 'RUNNING');
  });

  it('a retried lookup returns at most count instances, each named after the intent', async () => {
    fx = await startGceFixture({ emulator: { realism: { ignoreFilters: true } } });
    const request = await gceLaunchRequest(fx.provider, {}, { count: 2 });
    const first = await fx.provider.launch(request);
    addForeign(fx.emulator, request.intentId);
    // A new adapter (a restart) looks the intent up before sending it again.
    const restarted = new GcpComputeProvider({
      config: gceProviderConfig(fx.emulator, { rateLimits: UNTHROTTLED }),
      clock: fx.clock,
      logger: silentLogger(),
      accessToken: EMULATOR_ACCESS_TOKEN,
      priceBook: await catalogBook(),
    });
    try {
      const again = await restarted.launch(request);
      assert.deepEqual(again.map((i) => i.id).sort(), first.map((i) => i.id).sort());
      assert.equal(fx.emulator.callsOf('bulkInsert').length, 1, 'found, not sent again');
    } finally {
      await restarted.close();
    }
  });

  it('a burst and a second burst in a zone holding foreign VMs launch their own; reconcile and release leave the VMs', async () => {
    let clockRef: ManualClock | undefined;
    const shared: Clock = { now: () => clockRef!.now(), sleep: (ms, o) => clockRef!.sleep(ms, o) };
    gce = await GceEmulator.start({ clock: shared, rateQuotas: false, realism: { ignoreFilters: true } });
    const book = await catalogBook();
    cfx = await startControllerFixture({
      // e2-standard-2 in us-central1 ($0.0670/h) is cheaper than anything the AWS side offers.
      config: { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] },
      policy: { unknownInstanceGraceMs: 5_000, maxProvisionMs: 3_600_000 },
      settings: { reconcileEveryPasses: 1 },
      others: (clock) => {
        clockRef = clock;
        gceProvider = new GcpComputeProvider({
          config: gceProviderConfig(gce!, {
            rateLimits: UNTHROTTLED,
            zones: [ZONE],
            instanceTypes: [{ instanceType: 'e2-standard-2' }],
          }),
          clock,
          logger: silentLogger(),
          accessToken: EMULATOR_ACCESS_TOKEN,
          priceBook: book,
        });
        return [gceProvider];
      },
    });
    const foreign = addForeign(gce);
    cfx.submit(1);
    await cfx.pass();
    cfx.clock.advance(10_000);
    await cfx.pass();
    cfx.submit(2, { cpuMillis: 2_000 });
    cfx.clock.advance(PASS_MS);
    await cfx.pass();
    cfx.clock.advance(10_000);
    await cfx.pass();

    const intents = cfx.store.intents.launches(0) as LaunchIntent[];
    assert.deepEqual(
      intents.map((i) => [i.providerId, i.state, i.count]),
      [
        ['gcp-compute:us-central1', 'done', 1],
        ['gcp-compute:us-central1', 'done', 2],
      ],
    );
    const ours = intents.flatMap((i) => i.instanceIds);
    assert.deepEqual(
      ours,
      intents.flatMap((i) => Array.from({ length: i.count }, (_, k) => `${ZONE}/spw-${i.id}-${k}`)),
    );
    for (const id of ours) assert.ok(gce.instance(id), `${id} exists`);
    for (const id of foreign.slice(0, 2)) assert.equal(gce.instance(id)?.status, 'RUNNING', `${id} left alone`);
    // It carries this cluster's label, and no intent of ours launched it: ours to end after the grace, by design.
    assert.equal(gce.instance(foreign[2]!), undefined, 'the copycat with our cluster label was terminated');

    await cfx.controller.releaseAll('test shutdown');
    for (const id of ours) assert.equal(gce.instance(id), undefined, `${id} released`);
    for (const id of foreign.slice(0, 2)) assert.equal(gce.instance(id)?.status, 'RUNNING', `${id} not released`);
  });
});
