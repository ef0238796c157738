import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { toBudgetSpec } from '../../src/config/budget-schema.ts';
import { parseConfig } from '../../src/config/load.ts';
import { ValidationError } from '../../src/core/errors.ts';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return `${err.field} | ${err.message}`;
  }
  assert.fail('expected a ValidationError');
}

describe('config: budgets seed', () => {
  it('has no budgets by default', () => {
    assert.deepEqual(parseConfig({ clusterId: 'a' }).budgets, []);
  });

  it('reads budgets with their defaults, and turns dollars into exact micro-dollars', () => {
    const { budgets } = parseConfig({
      clusterId: 'a',
      budgets: [
        { name: 'ml-daily', scope: { kind: 'team', team: 'ml' }, period: 'day', capUsd: 50.123456 },
        { name: 'all', scope: { kind: 'global' }, period: 'burn', capUsd: 12, onCap: 'finish' },
      ],
    });
    assert.deepEqual(
      budgets.map((b) => toBudgetSpec(b.name, b)),
      [
        {
          name: 'ml-daily',
          scope: { kind: 'team', team: 'ml' },
          period: 'day',
          capMicros: 50_123_456,
          onCap: 'preempt',
        },
        { name: 'all', scope: { kind: 'global' }, period: 'burn', capMicros: 12_000_000, onCap: 'finish' },
      ],
    );
  });

  const bad = [
    {
      name: 'a cap finer than a micro-dollar',
      budget: { name: 'x', scope: { kind: 'global' }, period: 'day', capUsd: 0.0000005 },
      want: /^budgets\.0\.capUsd \| .*at most 6 decimals/,
    },
    {
      name: 'a reserved name',
      budget: { name: 'bud-1', scope: { kind: 'global' }, period: 'day', capUsd: 1 },
      want: /^budgets\.0\.name \| .*reserved/,
    },
    {
      name: 'a week, which is no period',
      budget: { name: 'x', scope: { kind: 'global' }, period: 'week', capUsd: 1 },
      want: /^budgets\.0\.period \| /,
    },
    {
      name: 'a project scope without its project',
      budget: { name: 'x', scope: { kind: 'project', team: 'ml' }, period: 'day', capUsd: 1 },
      want: /^budgets\.0\.scope\.project \| /,
    },
  ];
  for (const c of bad) {
    it(`names the key of ${c.name}`, () => {
      assert.match(
        fieldOf(() => parseConfig({ clusterId: 'a', budgets: [c.budget] })),
        c.want,
      );
    });
  }

  it('refuses two budgets of one name', () => {
    const budget = { name: 'x', scope: { kind: 'global' }, period: 'day', capUsd: 1 };
    assert.match(
      fieldOf(() => parseConfig({ clusterId: 'a', budgets: [budget, budget] })),
      /^budgets \| .*unique/,
    );
  });
});
