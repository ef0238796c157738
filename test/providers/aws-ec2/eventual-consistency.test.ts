import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { PASS_MS, startControllerFixture, type ControllerFixture } from './controller-fixture.ts';

const LAG = { newHiddenMs: 20_000, deletedListedMs: 20_000 };

describe('aws-ec2 with eventually consistent lists (emulator realism)', () => {
  let fx: ControllerFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('a new instance missing from lists for a while is not taken for gone: its agent stays, nothing is terminated', async () => {
    fx = await startControllerFixture({
      emulator: { realism: { eventualConsistency: LAG } },
      policy: { unknownInstanceGraceMs: 60_000 },
      settings: { reconcileEveryPasses: 1 },
    });
    fx.submit(1);
    await fx.pass();
    const [agent] = fx.store.agents.list({ states: ['provisioning'] });
    assert.ok(agent, 'the launch was confirmed');
    for (let t = 0; t < 30_000; t += PASS_MS) {
      fx.clock.advance(PASS_MS);
      await fx.pass();
    }
    assert.equal(fx.store.agents.get(agent.id)!.state, 'provisioning', 'not lost, not closed');
    assert.equal(fx.emulator.calls.filter((c) => c.action === 'TerminateInstances').length, 0);
    assert.equal(fx.emulator.liveInstances().length, 1);
    assert.equal(fx.store.intents.launches(0).length, 1, 'no replacement launched');
  });

  it('a terminated instance still listed for a while is neither adopted again nor given a new agent', async () => {
    fx = await startControllerFixture({
      emulator: { realism: { eventualConsistency: { newHiddenMs: 0, deletedListedMs: 20_000 } } },
      policy: { unknownInstanceGraceMs: 60_000 },
      settings: { reconcileEveryPasses: 1 },
    });
    fx.submit(1);
    await fx.pass();
    const [agent] = fx.store.agents.list({ states: ['provisioning'] });
    for (const task of fx.store.tasks.list({ states: ['pending'] }))
      fx.store.tasks.cancel(task.id, 'test', fx.clock.now());
    await fx.controller.releaseAll('test');
    assert.equal(fx.store.agents.get(agent!.id)!.state, 'terminated');
    for (let t = 0; t < 10_000; t += PASS_MS) {
      fx.clock.advance(PASS_MS);
      await fx.pass();
    }
    assert.equal(fx.store.agents.list({ states: ['provisioning', 'registered'] }).length, 0);
    assert.equal(fx.emulator.liveInstances().length, 0);
  });
});
