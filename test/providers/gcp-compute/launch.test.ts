import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { LABEL_CLUSTER, LABEL_INTENT, LABEL_TEAM } from '../../../src/providers/gcp-compute/gce-instances.ts';
import { CLUSTER, gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

describe('gcp-compute adapter against the GCE emulator (real @google-cloud/compute client)', () => {
  let fx: GceFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('inserts one instance from the template with the intent id as requestId, labels and the startup script', async () => {
    fx = await startGceFixture();
    const request = await gceLaunchRequest(fx.provider);
    const [launched, ...more] = await fx.provider.launch(request);
    assert.equal(more.length, 0);
    assert.equal(launched!.id, `us-central1-a/spw-${request.intentId}-0`);
    const inserts = fx.emulator.callsOf('insert');
    assert.deepEqual(
      inserts.map((c) => [c.status, c.requestId]),
      [[200, request.intentId]],
    );
    assert.equal(fx.emulator.callsOf('wait').length, 1, 'waited on the zone operation');
    const instance = fx.emulator.instance(launched!.id)!;
    assert.equal(instance.machineType, 'e2-standard-2');
    assert.equal(instance.template, `projects/${fx.emulator.project}/global/instanceTemplates/spillway-agents`);
    assert.equal(instance.spot, false);
    assert.equal(instance.labels[LABEL_CLUSTER], CLUSTER);
    assert.equal(instance.labels[LABEL_INTENT], request.intentId);
    assert.equal(instance.labels[LABEL_TEAM], 'vision', 'folded to what GCE labels accept');
    const script = instance.metadata.get('startup-script')!;
    assert.match(script, /^#!\/bin\/sh/);
    assert.ok(
      script.includes(`SPILLWAY_TOKEN='${request.bootstrap.credential}'`),
      'the bootstrap credential, in the environment',
    );
    assert.ok(script.includes("--cpu '2000m' --memory '8192Mi'"), 'the catalog capacity of e2-standard-2');
  });

  it('bulk-inserts several identical instances in one call, all or none', async () => {
    fx = await startGceFixture();
    const request = await gceLaunchRequest(
      fx.provider,
      { instanceType: 'n2-standard-2', zone: 'us-central1-b' },
      { count: 3 },
    );
    const launched = await fx.provider.launch(request);
    assert.deepEqual(
      launched.map((i) => i.id),
      [0, 1, 2].map((n) => `us-central1-b/spw-${request.intentId}-${n}`),
    );
    assert.equal(fx.emulator.callsOf('insert').length, 0);
    assert.deepEqual(
      fx.emulator.callsOf('bulkInsert').map((c) => c.requestId),
      [request.intentId],
    );
    assert.equal(fx.emulator.instances().length, 3);
    assert.ok(fx.emulator.instances().every((i) => i.machineType === 'n2-standard-2' && i.zone === 'us-central1-b'));
  });

  it('splits a launch above maxBulkInsert into bulk inserts with derived request ids', async () => {
    fx = await startGceFixture({ config: { maxBulkInsert: 2 } });
    const request = await gceLaunchRequest(fx.provider, {}, { count: 5 });
    const launched = await fx.provider.launch(request);
    assert.equal(launched.length, 5);
    const ids = fx.emulator.callsOf('bulkInsert').map((c) => c.requestId);
    assert.equal(ids.length, 3);
    assert.equal(ids[0], request.intentId);
    assert.equal(new Set(ids).size, 3);
    assert.equal(fx.emulator.instances().length, 5);
  });

  it('launches Spot through scheduling.provisioningModel SPOT with termination action DELETE', async () => {
    fx = await startGceFixture();
    const request = await gceLaunchRequest(fx.provider, { lifecycle: 'spot' });
    const [launched] = await fx.provider.launch(request);
    assert.equal(launched!.lifecycle, 'spot');
    const instance = fx.emulator.instance(launched!.id)!;
    assert.equal(instance.spot, true);
    assert.equal(instance.terminationAction, 'DELETE');
    const [listed] = await fx.provider.list(CLUSTER);
    assert.equal(listed!.lifecycle, 'spot');
  });

  it('lists by the cluster label across zones and pages, and nothing of other clusters', async () => {
    fx = await startGceFixture({ provider: { listPageSize: 2 } });
    const a = await gceLaunchRequest(fx.provider, { zone: 'us-central1-a' }, { count: 3 });
    const b = await gceLaunchRequest(fx.provider, { zone: 'us-central1-b' });
    const other = await gceLaunchRequest(fx.provider, {}, { clusterId: 'someone-else' });
    await fx.provider.launch(a);
    await fx.provider.launch(b);
    await fx.provider.launch(other);
    const listed = await fx.provider.list(CLUSTER);
    assert.equal(listed.length, 4);
    assert.ok(listed.every((i) => i.clusterId === CLUSTER));
    assert.deepEqual(new Set(listed.map((i) => i.intentId)), new Set([a.intentId, b.intentId]));
    assert.ok(fx.emulator.callsOf('list').length >= 3, 'followed nextPageToken in zone a (3 instances, pages of 2)');
  });

  it('deletes instances and waits for the deletions; unknown and malformed ids count as gone', async () => {
    fx = await startGceFixture();
    const launched = await fx.provider.launch(await gceLaunchRequest(fx.provider, {}, { count: 2 }));
    await fx.provider.terminate([...launched.map((i) => i.id), 'us-central1-a/spw-never-was', 'i-0123456789abcdef0']);
    assert.equal(fx.emulator.instances().length, 0);
    assert.deepEqual(await fx.provider.list(CLUSTER), []);
    assert.deepEqual(
      fx.emulator.callsOf('delete').map((c) => c.status),
      [200, 200, 404],
    );
    await fx.provider.terminate(launched.map((i) => i.id));
  });
});
