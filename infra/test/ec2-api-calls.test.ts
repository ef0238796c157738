import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { EC2_API_CALLS } from '../../src/providers/aws-ec2/api-calls.ts';
import {
  CLUSTER,
  launchRequest,
  startFixture,
  UNTHROTTLED,
  type Fixture,
} from '../../test/providers/aws-ec2/fixture.ts';

/**
 * EC2_API_CALLS is what the controller's IAM policy is made from: it must name every EC2 action the adapter sends,
 * and nothing it does not. The adapter's whole life (price refresh, on-demand and spot launches, listing,
 * terminating) runs against the EC2 emulator, through the real SDK, and the actions the emulator received are compared.
 */
describe('EC2_API_CALLS against what the adapter sends', () => {
  let fx: Fixture | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('lists exactly the EC2 actions the adapter calls', async () => {
    fx = await startFixture({ provider: { buckets: UNTHROTTLED }, config: { priceRefreshMs: 600_000 } });
    await fx.provider.refreshPrices();
    const onDemand = await fx.provider.launch(await launchRequest(fx.provider, {}, { count: 2 }));
    const spot = await fx.provider.launch(await launchRequest(fx.provider, { lifecycle: 'spot' }));
    const listed = await fx.provider.list(CLUSTER);
    assert.equal(listed.length, 3);
    await fx.provider.terminate([...onDemand, ...spot].map((i) => i.id));

    const sent = [...new Set(fx.emulator.calls.map((c) => `ec2:${c.action}`))].sort();
    assert.deepEqual(sent, EC2_API_CALLS.map((c) => c.call).sort());
    for (const call of EC2_API_CALLS) {
      assert.ok(call.permissions.includes(call.call), `${call.call} needs its own permission`);
      assert.ok(call.why.length > 20, `${call.call} says why`);
    }
  });
});
