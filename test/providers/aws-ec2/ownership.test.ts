import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import type { Instance } from '../../../src/core/instance.ts';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import { TAG_CLUSTER, TAG_INTENT } from '../../../src/providers/aws-ec2/launch-input.ts';
import type { EmulatedInstance } from '../../emulators/ec2/emulated-instance.ts';
import type { Ec2Emulator } from '../../emulators/ec2/ec2-emulator.ts';
import { PASS_MS, startControllerFixture, type ControllerFixture } from './controller-fixture.ts';
import { CLUSTER, launchRequest, startFixture, type Fixture } from './fixture.ts';

/** Another cluster's instance (with an intent tag of its own) and an untagged one, in the zone Spillway launches in. */
function addForeign(emulator: Ec2Emulator): EmulatedInstance[] {
  return [
    emulator.addForeignInstance({
      instanceType: 'c7i.large',
      zone: 'us-east-1a',
      tags: { [TAG_CLUSTER]: 'other-cluster', [TAG_INTENT]: '3f0c7a3e-7f7e-4a43-9a53-9e8f9a0b1c2d' },
    }),
    emulator.addForeignInstance({ instanceType: 'c7i.large', zone: 'us-east-1a' }),
  ];
}

describe('aws-ec2 ownership: only instances carrying the cluster tag are ever ours', () => {
  let fx: Fixture | undefined;
  let cfx: ControllerFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    await cfx?.close();
    fx = cfx = undefined;
  });

  it('list drops what a filter-ignoring DescribeInstances answers without the cluster tag, and reports it', async () => {
    const reported: Array<{ providerId: string; ids: string[] }> = [];
    fx = await startFixture({
      emulator: { realism: { ignoreFilters: true } },
      provider: {
        onForeignInstances: (providerId, instances) =>
          reported.push({ providerId, ids: instances.map((i) => i.id).sort() }),
      },
    });
    const foreign = addForeign(fx.emulator);
    const [own] = await fx.provider.launch(await launchRequest(fx.provider));

    const listed = await fx.provider.list(CLUSTER);
    assert.deepEqual(
      listed.map((i: Instance) => i.id),
      [own!.id],
    );
    assert.equal(fx.emulator.instances().length, 3, 'the account holds all three');
    assert.deepEqual(reported, [{ providerId: fx.provider.id, ids: foreign.map((i) => i.id).sort() }]);
  });

  it('in an account with other workloads in every zone (realism foreignInstances), lists and terminates only its own', async () => {
    fx = await startFixture({ emulator: { realism: { ignoreFilters: true, foreignInstances: true } } });
    const foreign = fx.emulator.instances().map((i) => i.id);
    assert.equal(foreign.length, 4, "another cluster's and an untagged instance in each of two zones");
    const own = await fx.provider.launch(await launchRequest(fx.provider, {}, { count: 2 }));
    assert.deepEqual(
      (await fx.provider.list(CLUSTER)).map((i) => i.id),
      own.map((i) => i.id).sort(),
    );
    await fx.provider.terminate(own.map((i) => i.id));
    assert.deepEqual(
      fx.emulator
        .liveInstances()
        .map((i) => i.id)
        .sort(),
      [...foreign].sort(),
    );
  });

  it('reconcile, the shutdown release and a second burst leave other workloads alone and launch their own', async () => {
    cfx = await startControllerFixture({
      emulator: { realism: { ignoreFilters: true } },
      config: { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] },
      policy: { unknownInstanceGraceMs: 5_000, maxProvisionMs: 3_600_000 },
      settings: { reconcileEveryPasses: 1 },
    });
    const foreign = addForeign(cfx.emulator);
    cfx.submit(1);
    await cfx.pass();
    cfx.clock.advance(10_000); // past the grace for unknown instances
    await cfx.pass();
    cfx.clock.advance(PASS_MS);
    cfx.submit(2, { cpuMillis: 2_000 }); // a second burst: one c7i.large each
    await cfx.pass();
    cfx.clock.advance(10_000);
    await cfx.pass();

    const intents = cfx.store.intents.launches(0) as LaunchIntent[];
    assert.deepEqual(
      intents.map((i) => [i.state, i.count]),
      [
        ['done', 1],
        ['done', 2],
      ],
    );
    const ours = new Set(intents.flatMap((i) => i.instanceIds));
    assert.equal(ours.size, 3, 'each burst launched its own instances');
    for (const id of ours) assert.equal(cfx.emulator.instance(id)!.tags.get(TAG_CLUSTER), CLUSTER);
    for (const f of foreign) {
      assert.equal(cfx.emulator.instance(f.id)!.state, 'running', `${f.id} was left alone by reconcile`);
      assert.equal(cfx.store.agents.byInstance('aws-ec2:us-east-1', f.id), undefined, `${f.id} was not adopted`);
    }

    const released = await cfx.controller.releaseAll('test shutdown');
    assert.equal(released, 3);
    for (const id of ours) assert.notEqual(cfx.emulator.instance(id)!.state, 'running');
    for (const f of foreign) assert.equal(cfx.emulator.instance(f.id)!.state, 'running', `${f.id} was not released`);
    const terminated = cfx.emulator.calls.filter((c) => c.action === 'TerminateInstances');
    assert.ok(terminated.length >= 1);
  });
});
