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
    // On a clock the steps move: 5 quick steps, one of 600 ms, then 200 quick ones, with slices of 500 ms. The pause
    // comes at the end of the long step (step 5) and only there: 200 steps that take no time come nowhere near 500 ms
    // more, counted from the pause (without the reset, every one of them would pause).
    let t = 1_000;
    let step = 0;
    function* steps(): Steps<number> {
      for (; step < 5; step++) yield;
      t += 600;
      yield;
      for (step = 6; step < 206; step++) yield;
      return step;
    }
    const pausedAt: number[] = [];
    const result = await runSliced(steps(), {
      sliceMs: 500,
      now: () => t,
      pause: () => {
        pausedAt.push(step);
        return Promise.resolve();
      },
    });
    assert.equal(result, 206);
    assert.deepEqual(pausedAt, [5]);
  });

  it('with sliceMs 0 pauses at every slice end, even where no time passed', async () => {
    function* steps(): Steps<string> {
      for (let i = 0; i < 4; i++) yield;
      return 'done';
    }
    let pauses = 0;
    const result = await runSliced(steps(), {
      sliceMs: 0,
      now: () => 42,
      pause: () => {
        pauses++;
        return Promise.resolve();
      },
    });
    assert.equal(result, 'done');
    assert.equal(pauses, 4);
  });

  it('measures slices on the process clock by default', async () => {
    // A real slice end after 30 ms of busy work pauses with a 20 ms slice; none does with a slice of an hour.
    const pausesWith = async (sliceMs: number): Promise<number> => {
      function* steps(): Steps<void> {
        busy(30);
        yield;
        busy(30);
        yield;
      }
      let pauses = 0;
      await runSliced(steps(), { sliceMs, pause: () => Promise.resolve(void pauses++) });
      return pauses;
    };
    assert.equal(await pausesWith(20), 2);
    assert.equal(await pausesWith(3_600_000), 0);
  });
});
