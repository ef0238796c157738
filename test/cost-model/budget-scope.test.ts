import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { describeCap, describeScope, scopeContains, type BudgetScope } from '../../src/cost-model/budget.ts';
import { owner } from './ledger-builders.ts';

describe('budget scopes', () => {
  const projectAnywhere: BudgetScope = { kind: 'project', project: 'vision' };
  const projectOfMl: BudgetScope = { kind: 'project', team: 'ml', project: 'vision' };
  const cases = [
    {
      name: 'a project without a team: that project in any team',
      scope: projectAnywhere,
      who: owner('web', 'vision'),
      want: true,
    },
    {
      name: 'a project without a team: not another project',
      scope: projectAnywhere,
      who: owner('ml', 'speech'),
      want: false,
    },
    { name: 'a team’s project: that team’s project', scope: projectOfMl, who: owner('ml', 'vision'), want: true },
    {
      name: 'a team’s project: not the same name in another team',
      scope: projectOfMl,
      who: owner('web', 'vision'),
      want: false,
    },
    {
      name: 'a team’s project: not another project of the team',
      scope: projectOfMl,
      who: owner('ml', 'speech'),
      want: false,
    },
  ];
  for (const c of cases) {
    it(`decides whose spend counts: ${c.name}`, () => assert.equal(scopeContains(c.scope, c.who), c.want));
  }

  it('names each kind of scope for people', () => {
    assert.equal(describeScope({ kind: 'global' }), 'global');
    assert.equal(describeScope({ kind: 'team', team: 'ml' }), 'team ml');
    assert.equal(describeScope(projectOfMl), 'project ml/vision');
    assert.equal(describeScope(projectAnywhere), 'project vision');
  });

  it('names a cap per period, and a burn budget’s as a rate per hour', () => {
    assert.equal(describeCap({ capMicros: 2_500_000, period: 'day' }), '$2.50 per day');
    assert.equal(describeCap({ capMicros: 2_500_000, period: 'month' }), '$2.50 per month');
    assert.equal(describeCap({ capMicros: 40_000_000, period: 'burn' }), '$40.00/h burn rate');
  });
});
