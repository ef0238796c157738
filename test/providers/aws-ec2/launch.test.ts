import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import {
  TAG_CLUSTER,
  TAG_INTENT,
  TAG_JOB,
  TAG_PROJECT,
  TAG_TEAM,
} from '../../../src/providers/aws-ec2/launch-input.ts';
import { waitFor } from '../../helpers/wait.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { CLUSTER, drive, launchRequest, startFixture, UNTHROTTLED, type Fixture } from './fixture.ts';

describe('aws-ec2 provider: launch, list and terminate through the SDK', () => {
  let fx: Fixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('launches count identical instances from the launch template in one call, tagged with cluster, intent and owner', async () => {
    const f = (fx = await startFixture());
    const request = await launchRequest(f.provider, { instanceType: 'm7i.large', zone: 'us-east-1b' }, { count: 3 });
    const instances = await f.provider.launch(request);

    assert.equal(instances.length, 3);
    assert.deepEqual(
      f.emulator.calls.filter((c) => c.action === 'RunInstances').map((c) => c.status),
      [200],
    );
    for (const instance of instances) {
      assert.equal(instance.providerId, 'aws-ec2:us-east-1');
      assert.equal(instance.instanceType, 'm7i.large');
      assert.equal(instance.zone, 'us-east-1b');
      assert.equal(instance.lifecycle, 'on-demand');
      assert.equal(instance.intentId, request.intentId);
      assert.equal(instance.clusterId, CLUSTER);
      const emulated = f.emulator.instance(instance.id)!;
      assert.equal(emulated.clientToken, request.intentId, 'the ClientToken is the intent id');
      assert.equal(emulated.launchTemplate.id, 'lt-0123456789abcdef0');
      assert.equal(emulated.subnetId, 'subnet-0b000000000000002');
      assert.equal(emulated.tags.get(TAG_CLUSTER), CLUSTER);
      assert.equal(emulated.tags.get(TAG_INTENT), request.intentId);
      assert.equal(emulated.tags.get(TAG_TEAM), 'vision');
      assert.equal(emulated.tags.get(TAG_PROJECT), 'detector');
      assert.equal(emulated.tags.get(TAG_JOB), 'train-7');
    }
  });

  it('renders user data from the boot template with the controller URL and the intent credential', async () => {
    fx = await startFixture({ config: { bootScript: { agentCommand: ['/opt/spillway/bin/spillway', 'agent'] } } });
    const request = await launchRequest(fx.provider);
    const [instance] = await fx.provider.launch(request);
    const script = Buffer.from(fx.emulator.instance(instance!.id)!.userData, 'base64').toString('utf8');
    assert.match(script, /^#!\/bin\/sh\n/);
    assert.ok(script.includes(`SPILLWAY_TOKEN='${request.bootstrap.credential}'`));
    assert.ok(script.includes("exec '/opt/spillway/bin/spillway' 'agent' --url 'http://127.0.0.1:7070' --cpu '2000m'"));
    assert.match(script, /--labels '[^']*spillway\.io\/lifecycle=on-demand/);
  });

  it('launches spot through InstanceMarketOptions and reports the spot lifecycle', async () => {
    fx = await startFixture();
    const request = await launchRequest(fx.provider, { lifecycle: 'spot' }, { count: 2 });
    const instances = await fx.provider.launch(request);
    assert.deepEqual(
      instances.map((i) => i.lifecycle),
      ['spot', 'spot'],
    );
    assert.equal(fx.emulator.instance(instances[0]!.id)!.lifecycle, 'spot');
  });

  it('lists only live instances of its cluster, across pages of 1,000', async () => {
    fx = await startFixture({ emulator: { buckets: false }, provider: { buckets: UNTHROTTLED } });
    const mine = await fx.provider.launch(await launchRequest(fx.provider, {}, { count: 1_200 }));
    await fx.provider.launch(await launchRequest(fx.provider, {}, { clusterId: 'other-cluster', count: 2 }));
    await fx.provider.terminate([mine[0]!.id]);

    const listed = await fx.provider.list(CLUSTER);
    assert.equal(listed.length, 1_199);
    assert.ok(listed.every((i) => i.clusterId === CLUSTER));
    assert.ok(!listed.some((i) => i.id === mine[0]!.id), 'a terminated instance is not listed');
    const describes = fx.emulator.calls.filter((c) => c.action === 'DescribeInstances');
    assert.equal(describes.length, 2, 'two pages');
  });

  it('reports instances pending, then running after the emulated boot', async () => {
    fx = await startFixture({ emulator: { bootMs: 300 } });
    const [instance] = await fx.provider.launch(await launchRequest(fx.provider));
    assert.equal(instance!.state, 'pending');
    await waitFor('the instance to run', async () => (await fx!.provider.list(CLUSTER))[0]?.state === 'running');
  });

  it('terminates in calls of at most 1,000 ids and treats unknown or gone ids as terminated', async () => {
    fx = await startFixture({ emulator: { buckets: false }, provider: { buckets: UNTHROTTLED } });
    const instances = await fx.provider.launch(await launchRequest(fx.provider, {}, { count: 1_500 }));
    const ids = instances.map((i) => i.id);
    await fx.provider.terminate([...ids, 'i-0123456789abcdef0', ids[0]!]);

    const calls = fx.emulator.calls.filter((c) => c.action === 'TerminateInstances');
    assert.ok(calls.length >= 2, 'split into batches');
    assert.equal(
      calls.filter((c) => c.code === 'InvalidInstanceID.NotFound').length,
      1,
      'the unknown id failed one call',
    );
    await waitFor('every instance to be gone', () => fx!.emulator.liveInstances().length === 0);
    // Terminating again is not an error: EC2 still knows them as terminated.
    await fx.provider.terminate(ids.slice(0, 3));
    assert.deepEqual(await fx.provider.list(CLUSTER), []);
  });

  it('splits a launch above one bucket of instances into calls with derived client tokens, never throttled', async () => {
    const clock = new ManualClock();
    fx = await startFixture({ clock });
    const request = await launchRequest(fx.provider, {}, { count: 2_100 });
    const startMs = clock.now();
    const instances = await drive(clock, fx.emulator, fx.provider.launch(request));
    assert.equal(instances.length, 2_100);
    assert.deepEqual(fx.emulator.callsWith('RequestLimitExceeded'), []);
    // EC2's bucket holds 1,000 instances and refills 2 a second: 1,100 more take at least 550 s.
    const elapsedS = (clock.now() - startMs) / 1000;
    assert.ok(elapsedS >= 550 && elapsedS <= 560, `took ${elapsedS} s of clock time`);
    const tokens = new Set(fx.emulator.instances().map((i) => i.clientToken));
    assert.deepEqual([...tokens].sort(), [request.intentId, `${request.intentId}/1`, `${request.intentId}/2`]);
    assert.ok(fx.emulator.instances().every((i) => i.tags.get(TAG_INTENT) === request.intentId));
  });
});
