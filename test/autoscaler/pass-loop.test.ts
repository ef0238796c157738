import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { PassLoop } from '../../src/autoscaler/pass-loop.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { waitFor } from '../helpers/wait.ts';

const INTERVAL_MS = 1_000;
const COALESCE_MS = 20;

describe('pass loop', () => {
  let clock: ManualClock;
  let loop: PassLoop | undefined;
  let passesAtMs: number[];
  let errors: unknown[];

  function start(pass: () => Promise<number | undefined> = async () => undefined): PassLoop {
    clock = new ManualClock();
    passesAtMs = [];
    errors = [];
    loop = new PassLoop({
      clock,
      intervalMs: INTERVAL_MS,
      coalesceMs: COALESCE_MS,
      pass: async () => {
        passesAtMs.push(clock.now());
        return pass();
      },
      onError: (err) => errors.push(err),
    });
    loop.start();
    return loop;
  }

  /** The time the loop sleeps until once it has run `count` passes. */
  function asleepAfter(count: number): Promise<number> {
    return waitFor(`asleep after ${count} passes`, () => passesAtMs.length === count && clock.nextWakeAt(), {
      intervalMs: 2,
    });
  }

  afterEach(async () => {
    await loop?.stop();
    loop = undefined;
  });

  it('runs a pass at once, then one every interval', async () => {
    start();
    const t0 = clock.now();
    assert.equal(await asleepAfter(1), t0 + INTERVAL_MS);
    clock.set(t0 + INTERVAL_MS);
    assert.equal(await asleepAfter(2), t0 + 2 * INTERVAL_MS);
    assert.deepEqual(passesAtMs, [t0, t0 + INTERVAL_MS]);
  });

  it('runs the next pass when the last said it is due, if before the interval', async () => {
    let dueInMs: number | undefined = 300;
    start(async () => dueInMs && clock.now() + dueInMs);
    const t0 = clock.now();
    assert.equal(await asleepAfter(1), t0 + 300);
    dueInMs = 5_000; // later than the interval: the interval wins
    clock.set(t0 + 300);
    assert.equal(await asleepAfter(2), t0 + 300 + INTERVAL_MS);
  });

  it('cuts a wait short on a wake-up and gathers the burst into one pass', async () => {
    start();
    const t0 = clock.now();
    await asleepAfter(1);
    clock.advance(7);
    for (let i = 0; i < 50; i++) loop!.wake();
    const gatherEnd = await asleepAfter(1);
    assert.equal(gatherEnd, t0 + 7 + COALESCE_MS);
    loop!.wake(); // during the gathering: changes nothing
    clock.set(gatherEnd);
    assert.equal(await asleepAfter(2), gatherEnd + INTERVAL_MS);
    assert.deepEqual(passesAtMs, [t0, t0 + 7 + COALESCE_MS]);
  });

  it('gives a failed pass to onError and goes on', async () => {
    let fail = true;
    start(async () => {
      if (fail) throw new Error('boom');
      return undefined;
    });
    await asleepAfter(1);
    assert.deepEqual(errors.map((e) => (e as Error).message), ['boom']);
    fail = false;
    clock.advance(INTERVAL_MS);
    await asleepAfter(2);
    assert.equal(errors.length, 1);
  });

  it('stops during a wait at once, and after the pass in flight', async () => {
    start();
    await asleepAfter(1);
    await loop!.stop();
    assert.equal(clock.nextWakeAt(), undefined, 'no sleeper left behind');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let ended = false;
    start(async () => {
      await held;
      ended = true;
      return undefined;
    });
    const stopped = loop!.stop().then(() => assert.ok(ended, 'the pass in flight ended first'));
    release();
    await stopped;
    assert.equal(passesAtMs.length, 1);
  });
});
