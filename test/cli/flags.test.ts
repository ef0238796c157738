import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { parseChoiceList, parseIdArgument, parseIntFlag, parseLabels, parseListFlag } from '../../src/cli/flags.ts';
import { ValidationError } from '../../src/core/errors.ts';

function refuses(fn: () => unknown, field: string, fragment: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ValidationError, String(err));
    assert.equal(err.field, field);
    assert.ok(err.message.includes(fragment), err.message);
    return true;
  });
}

describe('cli flag validators', () => {
  const ints = [
    { raw: '42', bounds: {}, want: 42 },
    { raw: ' 7 ', bounds: { min: 1 }, want: 7 },
    { raw: '-3', bounds: {}, want: -3 },
    { raw: '0', bounds: { min: 0, max: 0 }, want: 0 },
  ];
  for (const c of ints)
    it(`reads the whole number ${JSON.stringify(c.raw)}`, () =>
      assert.equal(parseIntFlag('--n', c.raw, c.bounds), c.want));

  const badInts = [
    { raw: '1.5', bounds: {}, fragment: 'got "1.5"' },
    { raw: 'ten', bounds: {}, fragment: 'got "ten"' },
    { raw: '', bounds: {}, fragment: 'got ""' },
    { raw: '1e3', bounds: {}, fragment: 'got "1e3"' },
    { raw: '0', bounds: { min: 1, max: 9 }, fragment: 'from 1 to 9' },
    { raw: '99999999999999999999', bounds: {}, fragment: 'whole number' },
  ];
  for (const c of badInts) {
    it(`refuses ${JSON.stringify(c.raw)} as a whole number`, () =>
      refuses(() => parseIntFlag('--n', c.raw, c.bounds), '--n', c.fragment));
  }

  it('splits lists on commas and refuses empty items', () => {
    assert.deepEqual(parseListFlag('--x', 'a, b,c'), ['a', 'b', 'c']);
    refuses(() => parseListFlag('--x', 'a,,b'), '--x', '"a,,b"');
  });

  it('accepts only the allowed choices, naming the first one it does not know', () => {
    assert.deepEqual(parseChoiceList('--state', 'pending,running', ['pending', 'running', 'failed']), [
      'pending',
      'running',
    ]);
    refuses(() => parseChoiceList('--state', 'pending,runing', ['pending', 'running']), '--state', '"runing"');
  });

  const labels = [
    { raw: 'zone=a,gpu.model=T4', want: { zone: 'a', 'gpu.model': 'T4' } },
    { raw: 'spillway.io/provider=local:demo', want: { 'spillway.io/provider': 'local:demo' } },
    { raw: 'empty=', want: { empty: '' } },
    { raw: '', want: {} },
  ];
  for (const c of labels)
    it(`reads the labels ${JSON.stringify(c.raw)}`, () => assert.deepEqual(parseLabels('--labels', c.raw), c.want));

  it('refuses labels without a key, or with one key twice', () => {
    refuses(() => parseLabels('--labels', 'novalue'), '--labels', '"novalue"');
    refuses(() => parseLabels('--labels', '=v'), '--labels', '"=v"');
    refuses(() => parseLabels('--labels', 'a=1,a=2'), '--labels', 'twice');
  });

  it('encodes ids for a URL path and refuses a pasted token secret without echoing it', () => {
    assert.equal(parseIdArgument('ID', 't-1/2'), 't-1%2F2');
    refuses(() => parseIdArgument('ID', 'has space'), 'ID', '"has space"');
    assert.throws(
      () => parseIdArgument('ID', 'swt_secretvalue'),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.ok(!err.message.includes('secretvalue'));
        return true;
      },
    );
  });
});
