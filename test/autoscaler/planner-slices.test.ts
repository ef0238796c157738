import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'mocha';
import { runSliced, runToEnd, type Steps } from '../../src/autoscaler/planner-slices.ts';

/**
 * Running steps in slices (planner-slices.ts) on its own: `runSliced` pauses at the first slice end after `sliceMs`
 * of work, counts the next slice's time from the end of the pause, and returns what `runToEnd` returns.
 */

/** Holds the CPU for `ms` of wall time: a slice of real work, as the planner's are. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe('planner: steps run in slices', () => {
  it('runs steps to their result without pausing', () => {
    let ran = 0;
    function* steps(): Steps<string> {
      for (let i = 0; i < 3; i++) {
        ran++;
        yield;
      }
      return 'done';
    }
    assert.equal(runToEnd(steps()), 'done');
    assert.equal(ran, 3);
  });

  it('pauses once a slice has run past sliceMs, then counts the time again from the pause', async () => {
    // 5 quick steps, one of 600 ms, then 200 quick ones, with slices of 500 ms: the pause comes at the end of the
    // long step (step 5), and 200 quick steps after it come nowhere near another 500 ms.
    let step = 0;
    function* steps(): Steps<number> {
      for (; step < 5; step++) yield;
      busy(600);
      yield;
      for (step = 6; step < 206; step++) yield;
      return step;
    }
    const pausedAt: number[] = [];
    const result = await runSliced(steps(), {
      sliceMs: 500,
      pause: () => {
        pausedAt.push(step);
        return Promise.resolve();
      },
    });
    assert.equal(result, 206);
    assert.ok(pausedAt.includes(5), `paused at ${pausedAt.join(', ')}`);
    // A machine may stall the quick steps past 500 ms once or twice; every step would pause without the reset.
    assert.ok(pausedAt.length <= 3, `paused at ${pausedAt.length} steps`);
  });
});
