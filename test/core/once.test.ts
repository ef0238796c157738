import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { once } from '../../src/core/once.ts';

describe('once', () => {
  it('calls its maker on the first call only and returns that first result to every call', () => {
    let calls = 0;
    const first = once(() => ({ n: ++calls }));
    const a = first();
    assert.equal(calls, 1);
    assert.equal(first(), a);
    assert.equal(first(), a);
    assert.equal(calls, 1);
    assert.deepEqual(a, { n: 1 });
  });

  it('remembers a result that is undefined, null or 0 as well', () => {
    for (const result of [undefined, null, 0]) {
      let calls = 0;
      const get = once(() => {
        calls += 1;
        return result;
      });
      assert.equal(get(), result);
      assert.equal(get(), result);
      assert.equal(calls, 1, `${String(result)} was made once`);
    }
  });

  it('shares one promise among callers that come before it settles', async () => {
    let loads = 0;
    const load = once(async () => {
      loads += 1;
      await new Promise((resolve) => setImmediate(resolve));
      return 'loaded';
    });
    const [x, y] = await Promise.all([load(), load()]);
    assert.deepEqual([x, y, loads], ['loaded', 'loaded', 1]);
  });

  it('keeps each function to its own maker', () => {
    const one = once(() => 1);
    const two = once(() => 2);
    assert.deepEqual([one(), two(), one()], [1, 2, 1]);
  });

  it('calls the maker again after a throw: a failure is not remembered', () => {
    let calls = 0;
    const flaky = once(() => {
      calls += 1;
      if (calls === 1) throw new Error('first call fails');
      return 'second';
    });
    assert.throws(flaky, /first call fails/);
    assert.equal(flaky(), 'second');
    assert.equal(flaky(), 'second');
    assert.equal(calls, 2);
  });
});
