import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import { plan, planSliced, type PlanInput } from '../../src/autoscaler/planner.ts';
import type { Offering } from '../../src/core/offering.ts';
import { PRODUCTION_POLICY } from '../../src/core/policy.ts';
import { PriceBook } from '../../src/cost-model/price-book.ts';
import { loadCatalog } from '../../src/cost-model/catalog.ts';
import { T0, task } from '../fakes/builders.ts';
import { inputOf, RUNS, scenarioArb } from './planner-scenarios.ts';

/**
 * The planner in slices (issue 15 item 2: no pass holds the event loop for more than 50 ms): `planSliced` lets the
 * event loop run between slices of bounded work and decides exactly what `plan` decides.
 */

/** The bundled catalog's AWS us-east-1 and GCE us-central1, every zone: about as many offerings as the benchmarks'. */
const offerings: Offering[] = (() => {
  const book = new PriceBook(loadCatalog());
  return [
    { providerId: 'aws-ec2:us-east-1', provider: 'aws-ec2', region: 'us-east-1', zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'] },
    { providerId: 'gcp-compute:us-central1', provider: 'gcp-compute', region: 'us-central1', zones: ['us-central1-a', 'us-central1-b'] },
  ].flatMap((r) => book.offerings(r));
})();

/** 1,000 one-CPU tasks of five owners, due now (the controller-memory benchmark's pending burst). */
function burst(): PlanInput {
  const pending = Array.from({ length: 1_000 }, (_, i) =>
    task({
      id: `t${String(i).padStart(4, '0')}`,
      owner: { team: 'burst', project: `p${i % 5}`, job: 'j' },
      resources: { cpuMillis: 1000, memoryMiB: 1024, gpus: 0, netMbps: 0 },
      pendingSinceMs: T0,
    }),
  );
  return {
    nowMs: T0 + 60_000,
    policy: { ...PRODUCTION_POLICY, pendingGraceMs: 0, limits: { maxInstances: 2_000, maxVcpus: 100_000, maxGpus: 64 } },
    pending,
    agents: [],
    openLaunches: [],
    offerings,
    unavailable: new Set(),
  };
}

/** Counts the event loop's turns while `work` runs: a callback that re-arms itself with setImmediate. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work();
    return { result, turns };
  } finally {
    running = false;
  }
}

describe('planner in slices', () => {
  it('lets the event loop run between slices of a 1,000-task plan over the catalog, and plans what plan() plans', async () => {
    assert.ok(offerings.length > 500, `${offerings.length} offerings`);
    const whole = plan(burst());
    assert.ok(whole.launches.length > 0);
    assert.equal(whole.launches.reduce((n, l) => n + l.taskIds.length, 0), 1_000);

    let pauses = 0;
    const { result, turns } = await turnsDuring(() =>
      planSliced(burst(), {
        sliceMs: 0,
        pause: () => {
          pauses++;
          return new Promise((resolve) => setImmediate(resolve));
        },
      }),
    );
    assert.deepEqual(result, whole);
    // One pause per slice end: the one-type check alone ends a slice every 32 offerings.
    assert.ok(pauses >= offerings.length / 32, `${pauses} pauses`);
    // Another callback ran between the slices: the event loop was not held from start to end.
    assert.ok(turns >= pauses / 2, `${turns} turns of the event loop during ${pauses} pauses`);
  });

  it('with a slice as long as the plan, never pauses: the turns counted above are the slices', async () => {
    let pauses = 0;
    const { result, turns } = await turnsDuring(() =>
      planSliced(burst(), { sliceMs: Infinity, pause: async () => void pauses++ }),
    );
    assert.deepEqual(result, plan(burst()));
    assert.equal(pauses, 0);
    assert.equal(turns, 0);
  });

  it('pauses by default on setImmediate, after about sliceMs of work', async () => {
    const { result, turns } = await turnsDuring(() => planSliced(burst(), { sliceMs: 0 }));
    assert.deepEqual(result, plan(burst()));
    assert.ok(turns >= offerings.length / 64, `${turns} turns`);
  });

  it('decides as plan() does on random scenarios, budgets calling admitLaunch in the same order', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const sync = inputOf(s);
        const expected = plan(sync.input);
        const sliced = inputOf(s);
        const actual = await planSliced(sliced.input, { sliceMs: 0, pause: () => Promise.resolve() });
        assert.deepEqual(actual, expected);
        assert.deepEqual(sliced.admitted, sync.admitted);
      }),
      { numRuns: RUNS },
    );
  });
});
