import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { GCE_API_CALLS } from '../../src/providers/gcp-compute/api-calls.ts';
import {
  CLUSTER,
  gceLaunchRequest,
  startGceFixture,
  type GceFixture,
} from '../../test/providers/gcp-compute/fixture.ts';

/**
 * The Compute Engine REST method each request the GCE emulator can receive is (the emulator names them by its own
 * short action names). Written here from the REST reference, not taken from the adapter or from GCE_API_CALLS.
 */
const METHOD_OF_ACTION: Readonly<Record<string, string>> = {
  insert: 'compute.instances.insert', // POST .../zones/{zone}/instances
  bulkInsert: 'compute.instances.bulkInsert', // POST .../zones/{zone}/instances/bulkInsert
  list: 'compute.instances.list', // GET .../zones/{zone}/instances
  delete: 'compute.instances.delete', // DELETE .../zones/{zone}/instances/{name}
  wait: 'compute.zoneOperations.wait', // POST .../zones/{zone}/operations/{name}/wait
  get: 'compute.zoneOperations.get', // GET .../zones/{zone}/operations/{name}
};

/**
 * GCE_API_CALLS is what the controller's custom roles are made from (infra/src/controller-permissions.ts): it must
 * name every Compute Engine method the adapter calls, and nothing it does not. The adapter's whole life (one insert,
 * a bulk insert, a spot launch, listing, terminating) runs against the GCE emulator through the real
 * @google-cloud/compute client, and the methods the emulator received are compared with the list.
 */
describe('GCE_API_CALLS against what the adapter sends', () => {
  let fx: GceFixture | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('lists exactly the Compute Engine methods the adapter calls', async () => {
    fx = await startGceFixture();
    const one = await fx.provider.launch(await gceLaunchRequest(fx.provider));
    const three = await fx.provider.launch(
      await gceLaunchRequest(fx.provider, { instanceType: 'n2-standard-2', zone: 'us-central1-b' }, { count: 3 }),
    );
    const spot = await fx.provider.launch(await gceLaunchRequest(fx.provider, { lifecycle: 'spot' }));
    const listed = await fx.provider.list(CLUSTER);
    assert.equal(listed.length, 5);
    await fx.provider.terminate([...one, ...three, ...spot].map((i) => i.id));
    assert.equal(fx.emulator.instances().length, 0, 'every instance is gone at the emulator');

    const actions = [...new Set(fx.emulator.calls.map((c) => c.action))];
    const unknown = actions.filter((a) => METHOD_OF_ACTION[a] === undefined);
    assert.deepEqual(unknown, [], 'requests the emulator could not name');
    const sent = actions.map((a) => METHOD_OF_ACTION[a] ?? a).sort();
    assert.deepEqual(sent, GCE_API_CALLS.map((c) => c.call).sort());
    for (const call of GCE_API_CALLS) {
      assert.ok(call.permissions.length > 0, `${call.call} names its permissions`);
      assert.ok(
        call.permissions.every((p) => /^(compute|iam)\.[A-Za-z]+\.[A-Za-z]+$/.test(p)),
        `${call.call}'s permissions`,
      );
      assert.ok(call.why.length > 20, `${call.call} says why`);
    }
  });
});
