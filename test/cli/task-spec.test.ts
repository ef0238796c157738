import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { submitRequestFromFlags, taskSpecFromFlags, type TaskFlags } from '../../src/cli/task-spec.ts';
import { ValidationError } from '../../src/core/errors.ts';

function flags(overrides: Partial<TaskFlags & { count: string }> = {}): TaskFlags & { count?: string } {
  return { cpu: '1', memory: '512Mi', ...overrides };
}

describe('cli task flags -> request body', () => {
  const accepted = [
    {
      name: 'the minimum: resources and command, nothing else, so server defaults apply',
      flags: flags(),
      want: { command: ['echo', 'hi'], resources: { cpu: 1, memory: 512 } },
    },
    {
      name: 'millicores as fractional cores and gibibytes as MiB',
      flags: flags({ cpu: '250m', memory: '4Gi' }),
      want: { command: ['echo', 'hi'], resources: { cpu: 0.25, memory: 4096 } },
    },
    {
      name: 'gpus and network',
      flags: flags({ gpus: '2', netMbps: '100' }),
      want: { command: ['echo', 'hi'], resources: { cpu: 1, memory: 512, gpus: 2, netMbps: 100 } },
    },
    {
      name: 'only the owner parts given',
      flags: flags({ team: 'ml', job: 'sweep-7' }),
      want: { command: ['echo', 'hi'], resources: { cpu: 1, memory: 512 }, owner: { team: 'ml', job: 'sweep-7' } },
    },
    {
      name: 'priority, revocable and private-only',
      flags: flags({ priority: '-5', revocable: true, privateOnly: true }),
      want: {
        command: ['echo', 'hi'],
        resources: { cpu: 1, memory: 512 },
        priority: -5,
        revocable: true,
        constraints: { privateOnly: true },
      },
    },
    {
      name: 'false switches left out',
      flags: flags({ revocable: false, privateOnly: false }),
      want: { command: ['echo', 'hi'], resources: { cpu: 1, memory: 512 } },
    },
  ];
  for (const c of accepted) {
    it(`builds a task spec: ${c.name}`, () => assert.deepEqual(taskSpecFromFlags(c.flags, ['echo', 'hi']), c.want));
  }

  const refused = [
    { name: 'memory it cannot read', flags: flags({ memory: 'lots' }), field: '--memory', value: '"lots"' },
    { name: 'a negative CPU', flags: flags({ cpu: '-1' }), field: '--cpu', value: '"-1"' },
    { name: 'a fractional GPU count', flags: flags({ gpus: '0.5' }), field: '--gpus', value: '"0.5"' },
    { name: 'a word for the network', flags: flags({ netMbps: 'fast' }), field: '--net-mbps', value: '"fast"' },
    { name: 'a word for the priority', flags: flags({ priority: 'high' }), field: '--priority', value: '"high"' },
    { name: 'an empty team', flags: flags({ team: ' ' }), field: '--team', value: '" "' },
    { name: 'a count of zero', flags: flags({ count: '0' }), field: '--count', value: '"0"' },
    { name: 'a count over the API limit', flags: flags({ count: '1001' }), field: '--count', value: '"1001"' },
    { name: 'no CPU', flags: { memory: '1Gi' }, field: '--cpu', value: 'required' },
    { name: 'no memory', flags: { cpu: '1' }, field: '--memory', value: 'required' },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}, naming the flag and the value`, () => {
      assert.throws(
        () => submitRequestFromFlags(c.flags, ['true']),
        (err: unknown) => {
          assert.ok(err instanceof ValidationError, String(err));
          assert.equal(err.field, c.field);
          assert.ok(err.message.includes(c.value), err.message);
          return true;
        },
      );
    });
  }

  it('reports a bad value given before a missing flag', () => {
    assert.throws(() => taskSpecFromFlags({ memory: 'lots' }, ['true']), { field: '--memory' });
  });

  it('refuses an empty command', () => {
    assert.throws(() => taskSpecFromFlags(flags(), []), { field: 'CMD' });
    assert.throws(() => taskSpecFromFlags(flags(), ['']), { field: 'CMD' });
  });

  it('submits --count identical tasks in one request', () => {
    const body = submitRequestFromFlags(flags({ count: '3', team: 'ml' }), ['sleep', '1']);
    assert.equal(body.tasks.length, 3);
    for (const task of body.tasks) assert.deepEqual(task, body.tasks[0]);
    assert.deepEqual(body.tasks[0]?.owner, { team: 'ml' });
  });

  it('submits one task without --count', () => {
    assert.equal(submitRequestFromFlags(flags(), ['true']).tasks.length, 1);
  });
});
