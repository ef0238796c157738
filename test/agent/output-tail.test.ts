import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { OutputTail } from '../../src/agent/output-tail.ts';

describe('output tail', () => {
  const cases = [
    { name: 'keeps everything below the limit', maxBytes: 10, chunks: ['abc', 'def'], want: 'abcdef' },
    { name: 'keeps the last bytes across chunks', maxBytes: 5, chunks: ['abcd', 'efgh'], want: 'defgh' },
    { name: 'keeps the end of one large chunk', maxBytes: 3, chunks: ['abcdefgh'], want: 'fgh' },
    { name: 'keeps exactly the limit', maxBytes: 4, chunks: ['ab', 'cd'], want: 'abcd' },
    // 'é' is two bytes: a cut through it drops the stray continuation byte instead of printing U+FFFD.
    { name: 'starts at a character boundary', maxBytes: 4, chunks: ['aé', 'xyz'], want: 'xyz' },
    { name: 'keeps a whole multi-byte character', maxBytes: 5, chunks: ['aé', 'xyz'], want: 'éxyz' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const tail = new OutputTail(c.maxBytes);
      for (const chunk of c.chunks) tail.append(chunk);
      assert.equal(tail.text(), c.want);
      assert.ok(tail.byteLength <= c.maxBytes);
    });
  }

  it('counts a version per non-empty append', () => {
    const tail = new OutputTail(8);
    assert.equal(tail.version, 0);
    tail.append('a');
    tail.append('');
    tail.append(Buffer.from('b'));
    assert.equal(tail.version, 2);
  });

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => new OutputTail(0), /outputTailBytes/);
    assert.throws(() => new OutputTail(1.5), /outputTailBytes/);
  });
});
