import assert from 'node:assert/strict';
import { it } from 'mocha';
import { systemClock } from '../../../src/core/clock.ts';
import { SpillwayError } from '../../../src/core/errors.ts';
import { PRODUCTION_POLICY } from '../../../src/core/policy.ts';
import { FencedError } from '../../../src/store/fenced-error.ts';
import type { AsyncStore } from '../../../src/store/async-store.ts';
import { fencedStore } from '../../../src/store/fenced-store.ts';
import { waitFor } from '../../helpers/wait.ts';
import { describeEachEngine } from './engines.ts';

/**
 * The lease's epochs and the fence, alike on both engines (SQLite for controllers on one machine, PostgreSQL for
 * controllers on several). Real clock: SQLite compares the callers' `nowMs`, PostgreSQL its own clock.
 */
const LEASE = 'controller';
const LONG_TTL_MS = 60_000;
/** The check before a cloud call: an empty transaction of the fenced view (as the controller's `hold` runs it). */
const fence = (view: AsyncStore): Promise<void> => view.transaction(async () => undefined);
const SHORT_TTL_MS = 200;

describeEachEngine('store contract: lease epochs and the fence', (engine) => {
  it('numbers tenures: 1 for the first holder, the same on renewal, one more on each takeover and after a release', async () => {
    const a = await engine().open();
    const b = await engine().open();
    assert.equal(await a.lease.epoch(LEASE, 'ctl-a', Date.now()), undefined, 'never taken');
    assert.equal(await a.lease.acquire(LEASE, 'ctl-a', Date.now(), LONG_TTL_MS), true);
    assert.equal(await a.lease.epoch(LEASE, 'ctl-a', Date.now()), 1);
    assert.equal(await a.lease.acquire(LEASE, 'ctl-a', Date.now(), LONG_TTL_MS), true);
    assert.equal(await a.lease.epoch(LEASE, 'ctl-a', Date.now()), 1, 'a renewal keeps the epoch');
    assert.equal(await b.lease.epoch(LEASE, 'ctl-b', Date.now()), undefined, 'not the holder');
    await a.lease.release(LEASE, 'ctl-a');
    assert.equal(await a.lease.epoch(LEASE, 'ctl-a', Date.now()), undefined, 'released');
    assert.equal(await b.lease.acquire(LEASE, 'ctl-b', Date.now(), SHORT_TTL_MS), true);
    assert.equal(
      await b.lease.epoch(LEASE, 'ctl-b', Date.now()),
      2,
      'a release keeps the epoch for the next holder to pass',
    );
    // ctl-b lets its short lease lapse; ctl-a takes over, then ctl-b comes back after ctl-a released.
    await waitFor('ctl-a to take over', () => a.lease.acquire(LEASE, 'ctl-a', Date.now(), LONG_TTL_MS), {
      intervalMs: 20,
    });
    assert.equal(await a.lease.epoch(LEASE, 'ctl-a', Date.now()), 3);
    await a.lease.release(LEASE, 'ctl-a');
    assert.equal(await a.lease.acquire(LEASE, 'ctl-a', Date.now(), LONG_TTL_MS), true);
    assert.equal(
      await a.lease.epoch(LEASE, 'ctl-a', Date.now()),
      4,
      'the same holder after its release is a new tenure',
    );
  });

  it('writes through the fenced view while the tenure holds, and refuses every write of an old tenure, writing nothing', async () => {
    const a = await engine().open();
    const b = await engine().open();
    await a.policy.seed(PRODUCTION_POLICY, Date.now());
    const setPaused = (store: typeof a, paused: boolean, actor: string) =>
      store.policy.set({ ...PRODUCTION_POLICY, paused }, actor, Date.now());
    assert.equal(await a.lease.acquire(LEASE, 'ctl-a', Date.now(), SHORT_TTL_MS), true);
    const epochA = (await a.lease.epoch(LEASE, 'ctl-a', Date.now()))!;
    const leaderA = fencedStore(a, { lease: LEASE, epoch: () => epochA }, systemClock);
    await setPaused(leaderA, true, 'ctl-a');
    assert.equal((await b.policy.get()).paused, true, 'a write of the current tenure lands');
    await fence(leaderA);

    // A is paused past its ttl; B takes over.
    await waitFor('ctl-b to take over', () => b.lease.acquire(LEASE, 'ctl-b', Date.now(), LONG_TTL_MS), {
      intervalMs: 20,
    });
    const epochB = (await b.lease.epoch(LEASE, 'ctl-b', Date.now()))!;
    assert.equal(epochB, epochA + 1);

    // A wakes up and writes as if it still led: single calls, a whole transaction, and the check before a cloud call.
    const refusedBy = (err: unknown): boolean => {
      assert.ok(err instanceof FencedError, `expected FencedError, got ${String(err)}`);
      assert.equal(err.epoch, epochA);
      assert.equal(err.currentEpoch, epochB);
      assert.equal(err.retryable, false);
      return true;
    };
    await assert.rejects(setPaused(leaderA, false, 'ctl-a'), refusedBy);
    await assert.rejects(
      leaderA.transaction(async () => {
        await a.audit.append({ atMs: Date.now(), actor: 'ctl-a', action: 'inside-the-fence', detail: null });
        await setPaused(leaderA, false, 'ctl-a');
      }),
      refusedBy,
    );
    await assert.rejects(fence(leaderA), refusedBy);
    assert.equal((await b.policy.get()).paused, true, "none of the old tenure's writes landed");
    assert.deepEqual(
      (await b.audit.list(50)).filter((e) => e.action === 'inside-the-fence'),
      [],
    );

    // B's own view writes.
    const leaderB = fencedStore(b, { lease: LEASE, epoch: () => epochB }, systemClock);
    await setPaused(leaderB, false, 'ctl-b');
    assert.equal((await a.policy.get()).paused, false);
    // A may take the lease again later, through the unfenced lease methods of its view.
    await b.lease.release(LEASE, 'ctl-b');
    assert.equal(await leaderA.lease.acquire(LEASE, 'ctl-a', Date.now(), LONG_TTL_MS), true);
  });

  it('refuses a write whose tenure lapsed even when nobody took over', async () => {
    const a = await engine().open();
    assert.equal(await a.lease.acquire(LEASE, 'ctl-a', Date.now(), SHORT_TTL_MS), true);
    const epoch = (await a.lease.epoch(LEASE, 'ctl-a', Date.now()))!;
    const leader = fencedStore(a, { lease: LEASE, epoch: () => epoch }, systemClock);
    await fence(leader);
    await waitFor(
      'the lease to lapse',
      async () => (await a.lease.holder(LEASE, Date.now())) === undefined || undefined,
      {
        intervalMs: 20,
      },
    );
    await assert.rejects(fence(leader), (err: unknown) => err instanceof FencedError && err.currentEpoch === epoch);
  });

  it('refuses the check outside a transaction: its lock would end at once', async () => {
    const a = await engine().open();
    await a.lease.acquire(LEASE, 'ctl-a', Date.now(), LONG_TTL_MS);
    await assert.rejects(a.lease.check(LEASE, 1, Date.now()), (err: unknown) => {
      assert.ok(err instanceof SpillwayError && !(err instanceof FencedError));
      assert.match(err.message, /inside the write's transaction/);
      return true;
    });
  });
});
