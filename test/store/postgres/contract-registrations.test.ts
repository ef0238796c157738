import assert from 'node:assert/strict';
import { it } from 'mocha';
import { T0 } from '../helpers.ts';
import { describeEachEngine, type ContractStore } from './engines.ts';

/**
 * Registration tokens' bounds, who registered whom, and single-use identity tokens, through the asynchronous port on
 * both engines. The limit check is the registrar's (src/pool/builtin/registrar.ts): count, then record, in one
 * transaction; here two controllers (two handles) do it at once.
 */
describeEachEngine('store contract: registrations', (engine) => {
  async function registrationToken(store: ContractStore, id: string): Promise<void> {
    await store.tokens.create({ id, role: 'agent', name: id, agentId: null, createdAtMs: T0 }, `hash-${id}`);
  }

  it('keeps bounds, counts what each token registered, and leaves an unbounded token without bounds', async () => {
    const store = await engine().open();
    await registrationToken(store, 'reg-1');
    await registrationToken(store, 'reg-2');
    assert.equal(await store.registrations.bounds('reg-1'), undefined);
    await store.registrations.setBounds('reg-1', { maxAgents: 2, site: 'lab', expiresAtMs: T0 + 60_000 });
    assert.deepEqual(await store.registrations.bounds('reg-1'), { maxAgents: 2, site: 'lab', expiresAtMs: T0 + 60_000 });
    await store.registrations.record('reg-1', 'a-1', T0);
    await store.registrations.record('reg-1', 'a-2', T0);
    await store.registrations.record('reg-2', 'a-3', T0);
    assert.equal(await store.registrations.count('reg-1'), 2);
    assert.equal(await store.registrations.count('reg-2'), 1);
    assert.equal(await store.registrations.count('reg-3'), 0);
  });

  it("lets two controllers checking one token's limit at once register only up to it", async () => {
    const setup = await engine().open();
    await registrationToken(setup, 'reg-1');
    // PostgreSQL: three pools, as three controllers have. SQLite: one connection, as one process has; a second
    // connection in this same process would wait for the write lock in SQLite's synchronous busy loop, blocking the
    // event loop the first one needs to finish.
    const controllers =
      engine().name === 'sqlite' ? [setup, setup, setup] : [await engine().open(), await engine().open(), await engine().open()];
    const maxAgents = 1;
    // Each holds its transaction open across an await between the check and the record, as a registrar does.
    const outcomes = await Promise.allSettled(
      controllers.map((store, i) =>
        store.transaction(async () => {
          const count = await store.registrations.count('reg-1');
          await new Promise((resolve) => setTimeout(resolve, 30));
          if (count >= maxAgents) return 'refused';
          await store.registrations.record('reg-1', `a-${i}`, T0);
          return 'registered';
        }),
      ),
    );
    const registered = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'registered');
    assert.equal(registered.length, maxAgents, JSON.stringify(outcomes));
    assert.equal(await setup.registrations.count('reg-1'), maxAgents);
  });

  it('accepts a single-use identity token once, across controllers, until it expires', async () => {
    const a = await engine().open();
    const b = await engine().open();
    assert.equal(await a.registrations.useOnce('sha-1', T0 + 1_000, T0), true);
    assert.equal(await b.registrations.useOnce('sha-1', T0 + 1_000, T0), false);
    assert.equal(await b.registrations.useOnce('sha-2', T0 + 1_000, T0), true);
  });
});
