import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'mocha';
import { ConflictError, NotFoundError } from '../../../src/core/errors.ts';
import { T0, launchIntent, newTask, offering, terminateIntent } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * The cases of test/store/intents.test.ts, run through the asynchronous port against both engines (expected values
 * from the cases themselves).
 */
describeEachEngine('store contract: intents', (engine) => {
  let store: ContractStore;

  beforeEach(async () => {
    store = await engine().open();
  });

  const instancesOf = async (intentId: string): Promise<(string | null)[]> =>
    (await store.agents.list()).filter((a) => a.intentId === intentId).map((a) => a.instanceId);

  it('stores launch and terminate intents as given', async () => {
    const launch = launchIntent({ offering: offering({ gpuModel: 'T4', lifecycle: 'spot' }), attempts: 2 });
    const terminate = terminateIntent({ instanceIds: ['i-1', 'i-2'] });
    await store.intents.insert(launch);
    await store.intents.insert(terminate);
    assert.deepEqual(await store.intents.get(launch.id), launch);
    assert.deepEqual(await store.intents.get(terminate.id), terminate);
    assert.equal(await store.intents.get('nope'), undefined);
  });

  it('refuses a second intent with the same id', async () => {
    const intent = launchIntent();
    await store.intents.insert(intent);
    await assert.rejects(async () => await store.intents.insert({ ...intent, reason: 'again' }), ConflictError);
    assert.equal((await store.intents.get(intent.id))!.reason, intent.reason);
  });

  it('lists open intents oldest first and launches since a time', async () => {
    const old = launchIntent({ createdAtMs: T0 });
    const done = launchIntent({ createdAtMs: T0 + 10, state: 'done' });
    const term = terminateIntent({ createdAtMs: T0 + 5 });
    const recent = launchIntent({ createdAtMs: T0 + 20 });
    for (const intent of [recent, done, term, old]) await store.intents.insert(intent);
    assert.deepEqual(
      (await store.intents.open()).map((i) => i.id),
      [old.id, term.id, recent.id],
    );
    assert.deepEqual(
      (await store.intents.launches(T0 + 10)).map((i) => i.id),
      [done.id, recent.id],
    );
  });

  it('pages recent intents newest first, ties by record order, with a cursor until the last page', async () => {
    // Five intents, two created at the same time: the one recorded later comes first.
    const made = [
      launchIntent({ createdAtMs: T0 }),
      terminateIntent({ createdAtMs: T0 + 5 }),
      launchIntent({ createdAtMs: T0 + 5 }),
      launchIntent({ createdAtMs: T0 + 9, state: 'done' }),
      terminateIntent({ createdAtMs: T0 + 20 }),
    ];
    for (const intent of made) await store.intents.insert(intent);
    const expected = [made[4]!, made[3]!, made[2]!, made[1]!, made[0]!].map((i) => i.id);
    const first = await store.intents.recent(2);
    assert.deepEqual(
      first.intents.map((i) => i.id),
      expected.slice(0, 2),
    );
    assert.notEqual(first.next, null);
    const second = await store.intents.recent(2, first.next!);
    assert.deepEqual(
      second.intents.map((i) => i.id),
      expected.slice(2, 4),
    );
    const third = await store.intents.recent(2, second.next!);
    assert.deepEqual(
      third.intents.map((i) => i.id),
      expected.slice(4),
    );
    assert.equal(third.next, null);
  });

  it('records attempts and failures with their error', async () => {
    const intent = launchIntent();
    await store.intents.insert(intent);
    await store.intents.recordAttempt(intent.id, 'throttled', T0 + 1);
    await store.intents.recordAttempt(intent.id, 'throttled again', T0 + 2);
    let got = (await store.intents.get(intent.id))!;
    assert.deepEqual([got.state, got.attempts, got.error, got.updatedAtMs], ['pending', 2, 'throttled again', T0 + 2]);
    await store.intents.fail(intent.id, 'no capacity', T0 + 3);
    got = (await store.intents.get(intent.id))!;
    assert.deepEqual([got.state, got.error, got.updatedAtMs], ['failed', 'no capacity', T0 + 3]);
    await assert.rejects(async () => await store.intents.fail('nope', 'x', T0), NotFoundError);
    await assert.rejects(async () => await store.intents.recordAttempt('nope', 'x', T0), NotFoundError);
  });

  describe('completeLaunch', () => {
    it('marks the launch done and adds one provisioning agent per instance, shaped by the offering', async () => {
      const intent = launchIntent({ offering: offering({ lifecycle: 'spot', labels: { pool: 'burst' } }) });
      await store.intents.insert(intent);
      await store.intents.completeLaunch(intent.id, ['i-1', 'i-2'], T0 + 30);

      const got = (await store.intents.get(intent.id))!;
      assert.deepEqual([got.state, got.instanceIds, got.updatedAtMs], ['done', ['i-1', 'i-2'], T0 + 30]);
      const agent = (await store.agents.byInstance(intent.providerId, 'i-2'))!;
      assert.equal(agent.name, 'i-2');
      assert.equal(agent.state, 'provisioning');
      assert.equal(agent.intentId, intent.id);
      assert.equal(agent.providerId, 'aws-ec2:us-east-1');
      assert.deepEqual(agent.location, { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' });
      assert.deepEqual(agent.capacity, intent.offering.capacity);
      assert.deepEqual(agent.labels, { pool: 'burst' });
      assert.equal(agent.lifecycle, 'spot');
      assert.equal(agent.pricePerHourMicros, intent.offering.pricePerHourMicros);
      assert.equal(agent.registeredAtMs, T0 + 30);
    });

    it('merges instance ids in order, without duplicates, and adds agents only for new ones', async () => {
      const intent = launchIntent({ count: 3 });
      await store.intents.insert(intent);
      await store.intents.adoptInstances(intent.id, ['i-2'], T0 + 1);
      const adopted = (await store.agents.byInstance(intent.providerId, 'i-2'))!;
      assert.equal((await store.intents.get(intent.id))!.state, 'pending');

      await store.intents.completeLaunch(intent.id, ['i-1', 'i-2', 'i-3'], T0 + 2);
      await store.intents.completeLaunch(intent.id, ['i-3', 'i-1'], T0 + 3);

      assert.deepEqual((await store.intents.get(intent.id))!.instanceIds, ['i-2', 'i-1', 'i-3']);
      assert.deepEqual((await instancesOf(intent.id)).sort(), ['i-1', 'i-2', 'i-3']);
      assert.deepEqual(await store.agents.byInstance(intent.providerId, 'i-2'), adopted);
    });

    it('refuses a terminate intent or an unknown one', async () => {
      const term = terminateIntent();
      await store.intents.insert(term);
      await assert.rejects(async () => await store.intents.completeLaunch(term.id, ['i-1'], T0), ConflictError);
      await assert.rejects(async () => await store.intents.adoptInstances(term.id, ['i-1'], T0), ConflictError);
      await assert.rejects(async () => await store.intents.completeLaunch('nope', ['i-1'], T0), NotFoundError);
      assert.equal((await store.agents.list()).length, 0);
      assert.equal((await store.intents.get(term.id))!.state, 'pending');
    });

    it('writes nothing when the surrounding transaction fails', async () => {
      const intent = launchIntent();
      await assert.rejects(() =>
        store.transaction(async () => {
          await store.intents.insert(intent);
          await store.intents.completeLaunch(intent.id, ['i-1'], T0);
          throw new Error('crash before commit');
        }),
      );
      assert.equal(await store.intents.get(intent.id), undefined);
      assert.equal((await store.agents.list()).length, 0);
    });
  });

  describe('completeTerminate', () => {
    it('terminates the agents of its instances, revoking their tokens and returning their tasks', async () => {
      const launch = launchIntent();
      await store.intents.insert(launch);
      await store.intents.completeLaunch(launch.id, ['i-1', 'i-2', 'i-3'], T0);
      const [a1, a2] = await Promise.all(
        ['i-1', 'i-2'].map(async (id) => (await store.agents.byInstance(launch.providerId, id))!),
      );
      await store.agents.register(a1!.id, { capacity: launch.offering.capacity, labels: {} }, T0 + 1);
      await store.tokens.create({ id: 'tok-1', role: 'agent', name: 'a1', agentId: a1!.id, createdAtMs: T0 }, 'hash-1');
      const [task] = await store.tasks.insert([newTask()], T0);
      await store.tasks.place(task!.id, a1!.id, T0 + 2);
      await store.agents.setState(a2!.id, 'lost', 'instance vanished', T0 + 3);

      const term = terminateIntent({ instanceIds: ['i-1', 'i-2', 'i-unknown'] });
      await store.intents.insert(term);
      await store.intents.completeTerminate(term, T0 + 10);

      assert.equal((await store.intents.get(term.id))!.state, 'done');
      assert.equal((await store.agents.get(a1!.id))!.state, 'terminated');
      assert.equal((await store.agents.get(a2!.id))!.state, 'terminated');
      assert.equal((await store.agents.byInstance(launch.providerId, 'i-3'))!.state, 'provisioning');
      assert.equal((await store.tokens.get('tok-1'))!.revokedAtMs, T0 + 10);
      const requeued = (await store.tasks.get(task!.id))!;
      assert.deepEqual([requeued.state, requeued.agentId, requeued.attempts], ['pending', null, 1]);
      assert.match(requeued.reason, new RegExp(term.id));

      // Confirming again is harmless: terminated agents stay as they are.
      const before = await store.agents.get(a1!.id);
      await store.intents.completeTerminate(term, T0 + 20);
      assert.deepEqual(await store.agents.get(a1!.id), before);
    });

    it('refuses an intent the store does not hold or a launch intent', async () => {
      await assert.rejects(async () => await store.intents.completeTerminate(terminateIntent(), T0), NotFoundError);
      const launch = launchIntent();
      await store.intents.insert(launch);
      await assert.rejects(
        async () => await store.intents.completeTerminate({ ...terminateIntent(), id: launch.id }, T0),
        ConflictError,
      );
    });
  });
});
