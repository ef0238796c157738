import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { ProviderError } from '../../../src/core/errors.ts';
import { PartialTerminateError } from '../../../src/providers/terminate-outcome.ts';
import { gceLaunchRequest, startGceFixture, type GceFixture } from './fixture.ts';

describe('gcp-compute terminate: every delete of a batch is sent, and each outcome reported', () => {
  let fx: GceFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('a batch with one protected instance deletes all the others, in order, and names the protected one', async () => {
    fx = await startGceFixture();
    const launched = await fx.provider.launch(await gceLaunchRequest(fx.provider, {}, { count: 4 }));
    const ids = launched.map((i) => i.id);
    const protectedId = ids[1]!;
    fx.emulator.protect(protectedId);
    const err = await fx.provider.terminate([...ids, 'us-central1-b/spw-gone-0']).then(
      () => assert.fail('expected a partial failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PartialTerminateError, String(err));
    assert.deepEqual(
      err.failed.map((f) => [f.instanceId, f.retryable]),
      [[protectedId, false]],
    );
    assert.match(err.failed[0]!.error, /protected against deletion/);
    assert.deepEqual(
      [...err.terminated].sort(),
      [...ids.filter((id) => id !== protectedId), 'us-central1-b/spw-gone-0'].sort(),
    );
    assert.deepEqual(
      fx.emulator.callsOf('delete').map((c) => c.status),
      [200, 400, 200, 200, 404],
      'a delete for every instance, after the refused one too',
    );
    assert.deepEqual(
      fx.emulator.instances().map((i) => `${i.zone}/${i.name}`),
      [protectedId],
    );
  });

  it('a 5xx on one delete does not stop the others; the failure is retryable', async () => {
    fx = await startGceFixture();
    const ids = (await fx.provider.launch(await gceLaunchRequest(fx.provider, {}, { count: 3 }))).map((i) => i.id);
    fx.emulator.injectFault({ kind: 'error', action: 'delete', status: 503, code: 'backendError' });
    const err = await fx.provider.terminate(ids).catch((e: unknown) => e);
    assert.ok(err instanceof PartialTerminateError, String(err));
    assert.equal(err.retryable, true);
    assert.deepEqual(
      err.failed.map((f) => [f.instanceId, f.retryable]),
      [[ids[0], true]],
    );
    assert.equal(fx.emulator.instances().length, 1);
    await fx.provider.terminate(ids); // the retry: the gone ones answer 404, the last is deleted
    assert.equal(fx.emulator.instances().length, 0);
  });

  it('a refusal of the only instance is thrown as itself', async () => {
    fx = await startGceFixture();
    const [one] = await fx.provider.launch(await gceLaunchRequest(fx.provider));
    fx.emulator.protect(one!.id);
    const err = await fx.provider.terminate([one!.id]).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && !(err instanceof PartialTerminateError), String(err));
    assert.equal(err.retryable, false);
  });
});
