import { Option, type Command } from 'commander';
import type { ChargebackResponse, ChargebackRowUsd, CostBreakdownUsd, UseFiguresBody } from '../../api/types.ts';
import { ValidationError } from '../../core/errors.ts';
import { ChargebackBy } from '../../cost-model/chargeback.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { formatTime, render, type Cell, type Column, type OutputFormat, type Table } from '../format.ts';
import { formatUsdAmount } from './budget.ts';

interface ChargebackOptions extends ConnectionFlags {
  readonly by: ChargebackBy;
  readonly from?: string;
  readonly to?: string;
  readonly format: OutputFormat;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** `2026-01-01` (UTC midnight) or `2026-01-01T12:00:00Z`: the instant, as the API's ISO text. */
export function parseTimeFlag(flag: string, raw: string): string {
  const ms = ISO_TIME.test(raw.trim()) ? Date.parse(raw.trim()) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new ValidationError(
      flag,
      `expected an ISO 8601 date or time with its offset, such as 2026-01-01 or 2026-01-01T12:00:00Z, got ${JSON.stringify(raw)}`,
    );
  }
  return new Date(ms).toISOString();
}

/** The query of GET /v1/reports/chargeback from validated flags. */
export function chargebackQuery(flags: Pick<ChargebackOptions, 'by' | 'from' | 'to'>): string {
  const query = new URLSearchParams({ by: flags.by });
  if (flags.from !== undefined) query.set('from', parseTimeFlag('--from', flags.from));
  if (flags.to !== undefined) query.set('to', parseTimeFlag('--to', flags.to));
  return `?${query.toString()}`;
}

const MONEY: readonly [string, keyof CostBreakdownUsd][] = [
  ['PRIVATE', 'privateUsd'],
  ['ON-DEMAND', 'onDemandUsd'],
  ['SPOT', 'spotUsd'],
  ['IDLE', 'idleUsd'],
  ['CLOUD', 'cloudUsd'],
  ['TOTAL', 'totalUsd'],
];

function groupColumns(by: ChargebackBy): (keyof Pick<ChargebackRowUsd, 'team' | 'project' | 'job'>)[] {
  if (by === 'team') return ['team'];
  return by === 'project' ? ['team', 'project'] : ['team', 'project', 'job'];
}

/** The report for people: one row per group, money right-aligned, a total line last. */
export function chargebackTable(report: ChargebackResponse): Table {
  const groups = groupColumns(report.by);
  const columns: Column[] = [
    ...groups.map((g) => ({ header: g.toUpperCase() })),
    ...MONEY.map(([header]) => ({ header, align: 'right' as const })),
    ...USE_HEADERS.map((header) => ({ header, align: 'right' as const })),
  ];
  const money = (values: CostBreakdownUsd): Cell[] => MONEY.map(([, key]) => formatUsdAmount(values[key]));
  return {
    columns,
    rows: [
      ...report.rows.map((row) => [...groups.map((g) => row[g]), ...money(row), ...useCells(row.use)]),
      ['(total)', ...groups.slice(1).map(() => ''), ...money(report.totals), ...useCells(report.use)],
    ],
  };
}

/** Measured use beside the money: used/requested CPU-hours and GiB-hours, and the efficiency of measured runs. */
const USE_HEADERS = ['CPU-H USED/REQ', 'GIB-H USED/REQ', 'CPU EFF', 'MEM EFF'] as const;

function useCells(use: UseFiguresBody | undefined): Cell[] {
  if (use === undefined) return USE_HEADERS.map(() => '-');
  const percent = (ratio: number | null): string => (ratio === null ? '-' : `${Math.round(ratio * 100)}%`);
  return [
    `${use.usedCpuHours.toFixed(2)}/${use.requestedCpuHours.toFixed(2)}`,
    `${use.usedGiBHours.toFixed(2)}/${use.requestedGiBHours.toFixed(2)}`,
    percent(use.cpuEfficiency),
    percent(use.memoryEfficiency),
  ];
}

/** One record per group with raw USD to the micro-dollar, for spreadsheets; the total is the sum of the rows. */
export function chargebackCsvTable(report: ChargebackResponse): Table {
  const groups = groupColumns(report.by);
  return {
    columns: [...groups, 'privateUsd', 'onDemandUsd', 'spotUsd', 'idleUsd', 'cloudUsd', 'totalUsd', 'from', 'to'].map(
      (header) => ({ header }),
    ),
    rows: report.rows.map((row) => [
      ...groups.map((g) => row[g]),
      ...MONEY.map(([, key]) => row[key].toFixed(6)),
      formatTime(report.fromMs),
      formatTime(report.toMs),
    ]),
  };
}

export function reportCommand(parent: Command, app: CliApp): void {
  const report = defineCommand(parent, 'report', 'cost reports (finance or admin role)');
  addExamples(report, ['spillway report chargeback --by team']);

  const cmd = defineCommand(
    report,
    'chargeback',
    'cost by team, project or job over a period: private and cloud side by side, on-demand, spot and idle apart',
  )
    .addOption(
      new Option('--by <grouping>', 'group by team, project (within its team) or job')
        .choices(Object.values(ChargebackBy))
        .makeOptionMandatory(),
    )
    .option('--from <time>', 'start, ISO 8601 (2026-01-01 or 2026-01-01T12:00:00Z; default: this UTC month’s start)')
    .option('--to <time>', 'end, exclusive, ISO 8601 (default: now)');
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'csv', 'json']);
  addExamples(cmd, [
    'spillway report chargeback --by team',
    'spillway report chargeback --by job --from 2026-01-01 --to 2026-02-01 --format csv > january.csv',
    'spillway report chargeback --by project --from 2026-01-15T00:00:00Z --format json',
  ]);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<ChargebackOptions>();
    const path = `/v1/reports/chargeback${chargebackQuery(flags)}`;
    const answer = await withClient(flags, app.ctx, (client) => client.get<ChargebackResponse>(path));
    const title =
      flags.format === 'table'
        ? `chargeback by ${answer.by}, ${formatTime(answer.fromMs)} to ${formatTime(answer.toMs)} (USD)\n`
        : '';
    app.ctx.stdout.write(
      title +
        render(
          flags.format,
          answer,
          () => chargebackTable(answer),
          () => chargebackCsvTable(answer),
        ),
    );
  });
}
