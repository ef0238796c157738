import assert from 'node:assert/strict';
import { providerStatuses } from '../../../src/api/provider-status.ts';
import { afterEach, describe, it } from 'mocha';
import { ManualClock } from '../../../src/core/clock.ts';
import { ProviderError } from '../../../src/core/errors.ts';
import type { TerminateIntent } from '../../../src/core/intent.ts';
import { PartialTerminateError } from '../../../src/providers/terminate-outcome.ts';
import { PASS_MS, startControllerFixture, type ControllerFixture } from './controller-fixture.ts';
import { launchRequest, startFixture, TEST_TYPES, type Fixture } from './fixture.ts';

const UNKNOWN_TYPE = { instanceType: 'q9z.large', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.05 };

describe('aws-ec2 partial failure stays partial', () => {
  let fx: Fixture | undefined;
  let cfx: ControllerFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    await cfx?.close();
    fx = cfx = undefined;
  });

  it('a price refresh with one type the region does not know refreshes the other types and names the unknown one', async () => {
    const clock = new ManualClock();
    const warnings: unknown[] = [];
    const logger = {
      child: () => logger,
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string, meta?: unknown) => warnings.push({ message, meta }),
      error: () => undefined,
    };
    fx = await startFixture({
      clock,
      logger: logger as never,
      config: { instanceTypes: [...TEST_TYPES, UNKNOWN_TYPE], priceRefreshMs: 60_000 },
    });
    fx.emulator.setSpotPrice('m7i.large', 'us-east-1a', 0.0312);
    const updates = await fx.provider.refreshPrices();
    assert.deepEqual(updates.unknownTypes, ['q9z.large']);
    assert.deepEqual(
      updates.specs.map((s) => s.instanceType),
      ['c7i.large', 'm7a.large', 'm7i.large'],
    );
    const spot = new Map(updates.spotPrices.map((p) => [`${p.instanceType}/${p.zone}`, p.pricePerHourMicros]));
    assert.equal(spot.size, 6, 'every known type in both zones');
    assert.equal(spot.get('m7i.large/us-east-1a'), 31_200);
    assert.deepEqual(
      fx.emulator.calls.map((c) => [c.action, c.code]),
      [
        ['DescribeInstanceTypes', 'InvalidInstanceType'],
        ['DescribeInstanceTypes', undefined],
        ['DescribeSpotPriceHistory', undefined],
      ],
    );
    // The offerings carry the refreshed spot price; the warning about the unknown type is logged once.
    clock.advance(60_000);
    fx.emulator.setSpotPrice('m7i.large', 'us-east-1a', 0.03);
    const offerings = await fx.provider.offerings();
    const m7i = offerings.find(
      (o) => o.instanceType === 'm7i.large' && o.zone === 'us-east-1a' && o.lifecycle === 'spot',
    );
    assert.equal(m7i!.pricePerHourMicros, 30_000);
    const unknownWarnings = warnings.filter(
      (w) => (w as { message: string }).message === 'skipped unknown instance types',
    );
    assert.equal(unknownWarnings.length, 1);
  });

  it('a batch terminate with one protected instance ends every other one, in its zone too, and names the protected one', async () => {
    fx = await startFixture();
    const a = await fx.provider.launch(await launchRequest(fx.provider, { zone: 'us-east-1a' }, { count: 3 }));
    const b = await fx.provider.launch(await launchRequest(fx.provider, { zone: 'us-east-1b' }, { count: 1 }));
    const protectedId = a[1]!.id;
    fx.emulator.protect(protectedId);
    const all = [...a, ...b].map((i) => i.id);
    const err = await fx.provider.terminate(all).then(
      () => assert.fail('expected a partial failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PartialTerminateError, String(err));
    assert.equal(err.retryable, true);
    assert.deepEqual(
      err.failed.map((f) => f.instanceId),
      [protectedId],
    );
    assert.match(err.failed[0]!.error, /OperationNotPermitted/);
    assert.deepEqual([...err.terminated].sort(), all.filter((id) => id !== protectedId).sort());
    for (const id of all) {
      const state: string = fx.emulator.instance(id)!.state;
      if (id === protectedId) assert.ok(state === 'pending' || state === 'running', `${id} is ${state}`);
      else assert.ok(state === 'shutting-down' || state === 'terminated', `${id} is ${state}`);
    }
  });

  it('a terminate whose only instance is protected throws the refusal itself', async () => {
    fx = await startFixture();
    const [one] = await fx.provider.launch(await launchRequest(fx.provider));
    fx.emulator.protect(one!.id);
    const err = await fx.provider.terminate([one!.id]).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && !(err instanceof PartialTerminateError), String(err));
    assert.equal(err.retryable, false);
  });

  it('the controller closes the ended agents, keeps the intent open for the protected one, and ends it once unprotected', async () => {
    cfx = await startControllerFixture({ policy: { idleTtlMs: 1_000 } });
    cfx.submit(2, { cpuMillis: 2_000 });
    await cfx.pass();
    const [launch] = cfx.store.intents.launches(0);
    assert.equal(launch!.instanceIds.length, 2);
    const [kept, other] = launch!.instanceIds;
    cfx.emulator.protect(kept!);
    for (const task of cfx.store.tasks.list({ states: ['pending'] }))
      cfx.store.tasks.cancel(task.id, 'test', cfx.clock.now());
    const agents = launch!.instanceIds.map((id) => cfx!.store.agents.byInstance('aws-ec2:us-east-1', id)!);
    await cfx.controller.releaseAll('test');
    const terminate = cfx.store.intents.open().find((i): i is TerminateIntent => i.kind === 'terminate');
    assert.ok(terminate, 'the terminate intent stays open for the protected instance');
    assert.equal(terminate.attempts, 1);
    assert.match(terminate.error, new RegExp(`${kept}.*OperationNotPermitted`));
    assert.equal(cfx.store.agents.get(agents[1]!.id)!.state, 'terminated', 'the ended one is closed');
    assert.notEqual(cfx.store.agents.get(agents[0]!.id)!.state, 'terminated', 'the protected one is not');
    assert.notEqual(cfx.emulator.instance(other!)!.state, 'running');
    // Status shows it: the provider is degraded and names the instance it has not terminated, with EC2's refusal.
    const [status] = providerStatuses(
      { ids: () => ['aws-ec2:us-east-1'], breakers: () => [], retry: () => ({ providerId: '', closed: 0 }) },
      true,
      cfx.store.intents.open(),
    );
    assert.equal(status!.health, 'degraded');
    assert.deepEqual(status!.failingTerminations.map((t) => [t.intentId, t.attempts]), [[terminate.id, 1]]);
    assert.match(status!.failingTerminations[0]!.error, new RegExp(`${kept}.*OperationNotPermitted`));

    cfx.emulator.protect(kept!, false);
    cfx.clock.advance(PASS_MS * 2); // past the first backoff (1 s)
    await cfx.pass();
    assert.equal(cfx.store.intents.get(terminate.id)!.state, 'done');
    assert.notEqual(cfx.emulator.instance(kept!)!.state, 'running');
    assert.equal(cfx.store.agents.get(agents[0]!.id)!.state, 'terminated');
    const [after] = providerStatuses(
      { ids: () => ['aws-ec2:us-east-1'], breakers: () => [], retry: () => ({ providerId: '', closed: 0 }) },
      true,
      cfx.store.intents.open(),
    );
    assert.deepEqual([after!.health, after!.failingTerminations], ['ok', []]);
  });
});
