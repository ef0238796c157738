import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { diffDotted, flattenDotted, parseAssignment, parseValue, setPath } from '../../src/cli/dotted-keys.ts';
import { editPolicy } from '../../src/cli/policy-edit.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { DEMO_POLICY, type Policy } from '../../src/core/policy.ts';

describe('cli policy set: dotted-key editing', () => {
  const values = [
    { name: 'a number', raw: '4', current: 8, want: 4 },
    { name: 'a boolean', raw: 'false', current: true, want: false },
    { name: 'a JSON list', raw: '["us-east-1"]', current: [], want: ['us-east-1'] },
    { name: 'a JSON string holding digits', raw: '"8"', current: 'x', want: '8' },
    { name: 'text that is not JSON as text', raw: 'us-east-1', current: 'x', want: 'us-east-1' },
    {
      name: 'text for a list field as a comma list',
      raw: 'us-east-1, eu-west-1',
      current: [],
      want: ['us-east-1', 'eu-west-1'],
    },
    { name: 'nothing for a list field as the empty list', raw: '', current: ['a'], want: [] },
    { name: 'a JSON object', raw: '{"maxInstances":1}', current: undefined, want: { maxInstances: 1 } },
  ];
  for (const c of values) it(`reads ${c.name}`, () => assert.deepEqual(parseValue(c.raw, c.current), c.want));

  it('splits a dotted key from its value at the first =', () => {
    assert.deepEqual(parseAssignment('limits.maxInstances=4'), {
      key: 'limits.maxInstances',
      path: ['limits', 'maxInstances'],
      raw: '4',
    });
    assert.deepEqual(parseAssignment('a=b=c').raw, 'b=c');
  });

  const badAssignments = [
    'noequals',
    '=4',
    'limits..maxInstances=4',
    '.paused=true',
    '__proto__.polluted=1',
    'constructor=1',
  ];
  for (const text of badAssignments) {
    it(`refuses the assignment ${JSON.stringify(text)}`, () =>
      assert.throws(() => parseAssignment(text), ValidationError));
  }

  it('replaces a nested value without touching the original', () => {
    const before = structuredClone(DEMO_POLICY) as Policy;
    const after = setPath(before, parseAssignment('limits.maxInstances=4')) as unknown as Policy;
    assert.equal(after.limits.maxInstances, 4);
    assert.equal(after.limits.maxVcpus, DEMO_POLICY.limits.maxVcpus);
    assert.equal(before.limits.maxInstances, DEMO_POLICY.limits.maxInstances);
  });

  it('creates missing objects on the way', () => {
    const after = setPath({ providerLimits: {} }, parseAssignment('providerLimits.aws-ec2.maxInstances=2'));
    assert.deepEqual(after, { providerLimits: { 'aws-ec2': { maxInstances: 2 } } });
  });

  it('refuses to descend into a value that is not an object, naming the key', () => {
    assert.throws(
      () => setPath(DEMO_POLICY, parseAssignment('paused.really=true')),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.field, 'paused.really');
        return true;
      },
    );
  });

  it('edits several keys and returns a policy that validates', () => {
    const after = editPolicy(DEMO_POLICY, ['limits.maxInstances=4', 'spot.allowed=false', 'regions=us-east-1']);
    assert.deepEqual(after, {
      ...DEMO_POLICY,
      limits: { ...DEMO_POLICY.limits, maxInstances: 4 },
      spot: { allowed: false },
      regions: ['us-east-1'],
    });
  });

  const invalid = [
    { name: 'an unknown key', edits: ['maxInstances=4'], field: 'maxInstances' },
    {
      name: 'a string for a number',
      edits: ['limits.maxInstances=four'],
      field: 'limits.maxInstances',
      says: '(from limits.maxInstances=four)',
    },
    { name: 'a negative limit', edits: ['limits.maxGpus=-1'], field: 'limits.maxGpus' },
    {
      name: 'an incomplete provider limit',
      edits: ['providerLimits.aws-ec2.maxInstances=2'],
      field: 'providerLimits.aws-ec2.maxVcpus',
    },
    { name: 'a number for a list', edits: ['regions=5'], field: 'regions', says: '(from regions=5)' },
    { name: 'a string for a boolean', edits: ['spot.allowed=no'], field: 'spot.allowed' },
  ];
  for (const c of invalid as { name: string; edits: string[]; field: string; says?: string }[]) {
    it(`refuses a result with ${c.name}, naming the field`, () => {
      assert.throws(
        () => editPolicy(DEMO_POLICY, c.edits),
        (err: unknown) => {
          assert.ok(err instanceof ValidationError, String(err));
          assert.equal(err.field, c.field);
          if (c.says) assert.ok(err.message.endsWith(c.says), err.message);
          return true;
        },
      );
    });
  }

  it('refuses no assignment at all', () => assert.throws(() => editPolicy(DEMO_POLICY, []), ValidationError));

  it('flattens the policy into the keys set takes', () => {
    const flat = new Map(flattenDotted(DEMO_POLICY));
    assert.equal(flat.get('limits.maxInstances'), DEMO_POLICY.limits.maxInstances);
    assert.equal(flat.get('spot.allowed'), true);
    assert.deepEqual(flat.get('regions'), []);
    assert.deepEqual(flat.get('providerLimits'), {});
  });

  it('lists exactly the changed keys with before and after', () => {
    const after = editPolicy(DEMO_POLICY, ['limits.maxInstances=4', 'spot.allowed=true']);
    assert.deepEqual(diffDotted(DEMO_POLICY, after), [
      { key: 'limits.maxInstances', before: DEMO_POLICY.limits.maxInstances, after: 4 },
    ]);
  });
});
