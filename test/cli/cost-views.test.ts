import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { BudgetView, ChargebackResponse } from '../../src/api/types.ts';
import {
  alertTable,
  budgetCsvTable,
  budgetTable,
  formatUsdAmount,
  parseScopeFlag,
  parseUsdFlag,
  renderBudgetSet,
} from '../../src/cli/commands/budget.ts';
import { chargebackCsvTable, chargebackQuery, chargebackTable, parseTimeFlag } from '../../src/cli/commands/report.ts';
import { renderCsv, renderTable } from '../../src/cli/format.ts';
import { T0 } from '../fakes/builders.ts';

const budget: BudgetView = {
  id: 'bud-1',
  name: 'ml-daily',
  scope: { kind: 'team', team: 'ml' },
  period: 'day',
  capUsd: 50,
  onCap: 'preempt',
  createdAtMs: T0,
  updatedAtMs: T0,
  status: { fromMs: T0, toMs: T0 + 86_400_000, spentUsd: 12.3, percent: 24.6, overrunUsd: 0 },
};

const report: ChargebackResponse = {
  by: 'project',
  fromMs: T0,
  toMs: T0 + 3_600_000,
  rows: [
    {
      team: 'ml',
      project: 'vision',
      job: null,
      privateUsd: 0.025,
      onDemandUsd: 0.09,
      spotUsd: 0,
      idleUsd: 0.135,
      cloudUsd: 0.225,
      totalUsd: 0.25,
      use: {
        requestedCpuHours: 2,
        usedCpuHours: 0.5,
        requestedGiBHours: 1.5,
        usedGiBHours: 0.25,
        cpuEfficiency: 0.5,
        memoryEfficiency: 0.5,
      },
    },
    {
      team: 'search',
      project: 'index, v2',
      job: null,
      privateUsd: 0,
      onDemandUsd: 0,
      spotUsd: 0.000001,
      idleUsd: 0,
      cloudUsd: 0.000001,
      totalUsd: 0.000001,
    },
  ],
  totals: {
    privateUsd: 0.025,
    onDemandUsd: 0.09,
    spotUsd: 0.000001,
    idleUsd: 0.135,
    cloudUsd: 0.225001,
    totalUsd: 0.250001,
  },
};

describe('cli cost views', () => {
  const scopes = [
    { name: 'global', raw: 'global', want: { kind: 'global' } },
    { name: 'a team', raw: 'team=ml', want: { kind: 'team', team: 'ml' } },
    { name: 'a project in any team', raw: 'project=vision', want: { kind: 'project', project: 'vision' } },
    { name: 'a team’s project', raw: 'project=ml/vision', want: { kind: 'project', team: 'ml', project: 'vision' } },
  ];
  for (const c of scopes) {
    it(`reads --scope for ${c.name}`, () => assert.deepEqual(parseScopeFlag(c.raw), c.want));
  }

  for (const raw of ['team', 'team=', 'org=x', 'project=ml/', '']) {
    it(`refuses --scope ${JSON.stringify(raw)}, naming the flag`, () => {
      assert.throws(() => parseScopeFlag(raw), { field: '--scope' });
    });
  }

  it('reads dollars to the micro-dollar and refuses anything finer or odd', () => {
    assert.equal(parseUsdFlag('--cap-usd', '12.5'), 12.5);
    assert.equal(parseUsdFlag('--cap-usd', '0.000001'), 0.000001);
    for (const raw of ['-1', '1e3', '0.0000001', '$5', 'lots', '']) {
      assert.throws(() => parseUsdFlag('--cap-usd', raw), { field: '--cap-usd' }, raw);
    }
  });

  it('shows dollars with cents, or with the decimals small amounts need', () => {
    assert.deepEqual([12.3, 1, 0, 0.0042, 0.000001, 0.12345, -2.5].map(formatUsdAmount), [
      '$12.30',
      '$1.00',
      '$0.00',
      '$0.0042',
      '$0.000001',
      '$0.12345',
      '-$2.50',
    ]);
  });

  it('lists budgets with scope, cap, spend and the share of the cap used', () => {
    const [header, row] = renderTable(
      budgetTable([budget, { ...budget, period: 'burn', scope: { kind: 'global' } }]),
    ).split('\n');
    assert.match(header ?? '', /^ID\s+NAME\s+SCOPE\s+CAP\s+ON CAP\s+SPENT\s+USED$/);
    assert.match(row ?? '', /^bud-1\s+ml-daily\s+team ml\s+\$50\.00 per day\s+preempt\s+\$12\.30\s+24\.6%$/);
    assert.match(renderTable(budgetTable([{ ...budget, period: 'burn' }])), /\$50\.00\/h burn rate/);
    const csv = renderCsv(budgetCsvTable([budget])).split('\r\n');
    assert.equal(csv[0], 'id,name,scope,team,project,period,capUsd,onCap,periodStart,spentUsd,percent,overrunUsd');
    assert.equal(
      csv[1],
      'bud-1,ml-daily,team,ml,,day,50.000000,preempt,2026-01-01T00:00:00.000Z,12.300000,24.6,0.000000',
    );
  });

  it('says whether budget set created or updated the budget, and any overrun', () => {
    assert.equal(
      renderBudgetSet(budget, true),
      'created budget ml-daily (bud-1): team ml, $50.00 per day, on cap preempt; spent $12.30 (24.6%)\n',
    );
    assert.match(
      renderBudgetSet({ ...budget, onCap: 'finish', status: { ...budget.status, overrunUsd: 3 } }, false),
      /^updated budget .*on cap finish; .*, \$3\.00 over\n$/,
    );
  });

  it('lists alerts with their level', () => {
    const row = renderTable(
      alertTable([
        {
          id: 1,
          budgetId: 'bud-1',
          budgetName: 'ml-daily',
          scope: budget.scope,
          period: 'day',
          periodStartMs: T0,
          percent: 80,
          spentUsd: 40,
          capUsd: 50,
          atMs: T0,
        },
      ]),
    ).split('\n')[1];
    assert.match(row ?? '', /^2026-01-01T00:00:00\.000Z\s+ml-daily\s+team ml\s+80%\s+\$40\.00\s+\$50\.00 per day$/);
  });

  it('shows the chargeback with a column per category and a total line', () => {
    const lines = renderTable(chargebackTable(report)).trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^TEAM\s+PROJECT\s+PRIVATE\s+ON-DEMAND\s+SPOT\s+IDLE\s+CLOUD\s+TOTAL\s+CPU-H USED\/REQ\s+GIB-H USED\/REQ\s+CPU EFF\s+MEM EFF$/);
    assert.match(lines[1] ?? '', /^ml\s+vision\s+\$0\.025\s+\$0\.09\s+\$0\.00\s+\$0\.135\s+\$0\.225\s+\$0\.25\s+0\.50\/2\.00\s+0\.25\/1\.50\s+50%\s+50%$/);
    assert.match(
      lines[3] ?? '',
      /^\(total\)\s+\$0\.025\s+\$0\.09\s+\$0\.000001\s+\$0\.135\s+\$0\.225001\s+\$0\.250001\s+-\s+-\s+-\s+-$/,
    );
  });

  it('writes the chargeback CSV with USD to the micro-dollar, quoting where needed', () => {
    const csv = renderCsv(chargebackCsvTable(report)).split('\r\n');
    assert.equal(csv[0], 'team,project,privateUsd,onDemandUsd,spotUsd,idleUsd,cloudUsd,totalUsd,from,to');
    assert.equal(
      csv[2],
      'search,"index, v2",0.000000,0.000000,0.000001,0.000000,0.000001,0.000001,2026-01-01T00:00:00.000Z,2026-01-01T01:00:00.000Z',
    );
  });

  it('builds the chargeback query from validated times', () => {
    assert.equal(chargebackQuery({ by: 'team' }), '?by=team');
    assert.equal(
      chargebackQuery({ by: 'job', from: '2026-01-01', to: '2026-01-02T12:00:00+02:00' }),
      '?by=job&from=2026-01-01T00%3A00%3A00.000Z&to=2026-01-02T10%3A00%3A00.000Z',
    );
    assert.throws(() => parseTimeFlag('--to', '2026-01-01T10:00'), { field: '--to' });
  });
});
