import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import fc from 'fast-check';
import type { AgentState } from '../../src/core/agent.ts';
import type { Store } from '../../src/store/store.ts';
import { T0, TempStores, privateAgent } from './helpers.ts';

// Each run opens a store of its own (~25 ms): at most 100 runs, even when CI asks for 1,000.
const RUNS = Math.min(100, Number(process.env.SPILLWAY_PROPERTY_RUNS ?? 50));
const STATES: readonly AgentState[] = ['provisioning', 'registered', 'draining', 'lost', 'terminated'];

/** The agent listing pages in record order through any filter of states, each state walked along its index. */
describe('agent listing by state', () => {
  let stores: TempStores;
  let store: Store;

  beforeEach(() => {
    stores = new TempStores();
    store = stores.open();
  });
  afterEach(() => stores.cleanup());

  function pages(states: readonly AgentState[] | undefined, limit: number): string[] {
    const ids: string[] = [];
    let after: number | undefined;
    for (let guard = 0; guard < 1_000; guard++) {
      const page = store.agents.page({ ...(states && { states }), limit, ...(after !== undefined && { after }) });
      assert.ok(page.agents.length <= limit);
      ids.push(...page.agents.map((a) => a.id));
      if (page.next === null) return ids;
      after = page.next;
    }
    throw new Error('the listing never ended');
  }

  it('pages every agent of the chosen states exactly once, in record order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...STATES), { maxLength: 30 }),
        fc.option(fc.subarray([...STATES]), { nil: undefined }),
        fc.integer({ min: 1, max: 7 }),
        (endStates, states, limit) => {
          stores.cleanup();
          stores = new TempStores();
          store = stores.open();
          const agents = endStates.map((state, i) => {
            const agent = store.agents.insert(privateAgent({ name: `a${i}` }), T0);
            if (state !== 'registered') store.agents.setState(agent.id, state, 'test', T0);
            return { id: agent.id, state };
          });
          const expected = agents.filter((a) => states === undefined || states.includes(a.state)).map((a) => a.id);
          assert.deepEqual(pages(states, limit), expected);
        },
      ),
      { numRuns: RUNS, seed: 17 },
    );
  });
});
