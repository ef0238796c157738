import { Option, type Command } from 'commander';
import { ApiError } from '../../api/client.ts';
import type { BudgetAlertView, BudgetBody, BudgetView } from '../../api/types.ts';
import { ValidationError } from '../../core/errors.ts';
import { BudgetPeriod, describeScope, OnCap, type BudgetScope } from '../../cost-model/budget.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { fetchList } from '../pages.ts';
import { budgetForecastCommand } from './budget-forecast.ts';
import { parseIdArgument, parseIntFlag, parseNameFlag } from '../flags.ts';
import { formatTime, render, renderJson, type OutputFormat, type Table } from '../format.ts';

interface BudgetOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

interface SetOptions extends BudgetOptions {
  readonly scope: string;
  readonly period: BudgetPeriod;
  readonly capUsd: string;
  readonly onCap: OnCap;
}

/** `global`, `team=T`, `project=P` or `project=T/P` -> a budget scope. */
export function parseScopeFlag(raw: string): BudgetScope {
  const text = raw.trim();
  if (text === 'global') return { kind: 'global' };
  const match = /^(team|project)=(.+)$/.exec(text);
  if (match?.[1] === 'team') return { kind: 'team', team: parseNameFlag('--scope', match[2]!) };
  if (match?.[1] === 'project') {
    const slash = match[2]!.indexOf('/');
    if (slash < 0) return { kind: 'project', project: parseNameFlag('--scope', match[2]!) };
    return {
      kind: 'project',
      team: parseNameFlag('--scope', match[2]!.slice(0, slash)),
      project: parseNameFlag('--scope', match[2]!.slice(slash + 1)),
    };
  }
  throw new ValidationError(
    '--scope',
    `expected global, team=TEAM, project=PROJECT or project=TEAM/PROJECT, got ${JSON.stringify(raw)}`,
  );
}

/** `50`, `12.5`, `0.000001`: dollars with at most six decimals (micro-dollars). */
export function parseUsdFlag(flag: string, raw: string): number {
  if (!/^\s*\d{1,10}(\.\d{1,6})?\s*$/.test(raw)) {
    throw new ValidationError(
      flag,
      `expected an amount in USD such as 50 or 12.75 (at most 6 decimals), got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

/** `$12.30`, or with as many decimals as the amount needs, up to the micro-dollar (`$0.0042`). */
export function formatUsdAmount(usd: number): string {
  return `${usd < 0 ? '-' : ''}$${Math.abs(usd)
    .toFixed(6)
    .replace(/0{1,4}$/, '')}`;
}

function describeCapOf(b: Pick<BudgetView, 'capUsd' | 'period'>): string {
  return b.period === 'burn'
    ? `${formatUsdAmount(b.capUsd)}/h burn rate`
    : `${formatUsdAmount(b.capUsd)} per ${b.period}`;
}

export function budgetTable(budgets: readonly BudgetView[]): Table {
  return {
    columns: [
      { header: 'ID' },
      { header: 'NAME' },
      { header: 'SCOPE' },
      { header: 'CAP' },
      { header: 'ON CAP' },
      { header: 'SPENT', align: 'right' },
      { header: 'USED', align: 'right' },
    ],
    rows: budgets.map((b) => [
      b.id,
      b.name,
      describeScope(b.scope),
      describeCapOf(b),
      b.onCap,
      formatUsdAmount(b.status.spentUsd),
      `${b.status.percent.toFixed(1)}%`,
    ]),
  };
}

export function budgetCsvTable(budgets: readonly BudgetView[]): Table {
  const headers = [
    'id',
    'name',
    'scope',
    'team',
    'project',
    'period',
    'capUsd',
    'onCap',
    'periodStart',
    'spentUsd',
    'percent',
    'overrunUsd',
  ];
  return {
    columns: headers.map((header) => ({ header })),
    rows: budgets.map((b) => [
      b.id,
      b.name,
      b.scope.kind,
      b.scope.kind === 'global' ? '' : (b.scope.team ?? ''),
      b.scope.kind === 'project' ? b.scope.project : '',
      b.period,
      b.capUsd.toFixed(6),
      b.onCap,
      formatTime(b.status.fromMs),
      b.status.spentUsd.toFixed(6),
      b.status.percent,
      b.status.overrunUsd.toFixed(6),
    ]),
  };
}

export function alertTable(alerts: readonly BudgetAlertView[]): Table {
  return {
    columns: [
      { header: 'AT' },
      { header: 'BUDGET' },
      { header: 'SCOPE' },
      { header: 'LEVEL', align: 'right' },
      { header: 'SPENT', align: 'right' },
      { header: 'CAP' },
    ],
    rows: alerts.map((a) => [
      formatTime(a.atMs),
      a.budgetName,
      describeScope(a.scope),
      `${a.percent}%`,
      formatUsdAmount(a.spentUsd),
      describeCapOf(a),
    ]),
  };
}

/** One line for a person after `budget set`. */
export function renderBudgetSet(b: BudgetView, created: boolean): string {
  const overrun = b.status.overrunUsd > 0 ? `, ${formatUsdAmount(b.status.overrunUsd)} over` : '';
  return (
    `${created ? 'created' : 'updated'} budget ${b.name} (${b.id}): ${describeScope(b.scope)}, ${describeCapOf(b)}, ` +
    `on cap ${b.onCap}; spent ${formatUsdAmount(b.status.spentUsd)} (${b.status.percent.toFixed(1)}%)${overrun}\n`
  );
}

export function budgetCommand(parent: Command, app: CliApp): void {
  const budget = defineCommand(
    parent,
    'budget',
    'set, list and delete cloud spend budgets (finance or admin role; audited)',
  );
  addExamples(budget, [
    'spillway budget set ml-daily --scope team=ml --period day --cap-usd 50',
    'spillway budget list',
    'spillway budget alerts',
  ]);

  const set = defineCommand(budget, 'set', 'create or replace the budget of this name')
    .argument('<name>', 'the budget name: letters, digits, dots, dashes, underscores')
    .requiredOption('--scope <scope>', 'whose spend counts: global, team=TEAM, project=PROJECT or project=TEAM/PROJECT')
    .addOption(
      new Option('--period <period>', 'calendar hour, day or month (UTC), or burn: --cap-usd per hour over any hour')
        .choices(Object.values(BudgetPeriod))
        .makeOptionMandatory(),
    )
    .requiredOption('--cap-usd <usd>', 'the cap in USD per period (per hour for burn), at most 6 decimals')
    .addOption(
      new Option('--on-cap <action>', 'preempt: stop the scope’s cloud work before the cap; finish: only stop new work')
        .choices(Object.values(OnCap))
        .default(OnCap.preempt),
    );
  addConnectionOptions(set);
  addFormatOption(set, ['table', 'json']);
  addExamples(set, [
    'spillway budget set ml-daily --scope team=ml --period day --cap-usd 50',
    'spillway budget set all-clouds --scope global --period month --cap-usd 20000 --on-cap finish',
    'spillway budget set vision-burn --scope project=ml/vision --period burn --cap-usd 12.5',
  ]);
  set.action(async (name: string, _options: unknown, self: Command) => {
    const flags = self.opts<SetOptions>();
    const body: BudgetBody = {
      scope: parseScopeFlag(flags.scope),
      period: flags.period,
      capUsd: parseUsdFlag('--cap-usd', flags.capUsd),
      onCap: flags.onCap,
    };
    const path = `/v1/budgets/${parseIdArgument('NAME', name)}`;
    const { saved, created } = await withClient(flags, app.ctx, async (client) => {
      // Only to say "created" or "updated": the PUT itself creates or replaces either way.
      const existed = await client.get<BudgetView>(path).then(
        () => true,
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 404) return false;
          throw err;
        },
      );
      return { saved: await client.put<BudgetView>(path, body), created: !existed };
    });
    app.ctx.stdout.write(flags.format === 'json' ? renderJson(saved) : renderBudgetSet(saved, created));
  });

  const list = defineCommand(budget, 'list', 'list budgets with their spend in the current period').option(
    '--all',
    'every budget: follow the pages (100 budgets each) to the end',
  );
  addConnectionOptions(list);
  addFormatOption(list, ['table', 'json', 'csv']);
  addExamples(list, ['spillway budget list', 'spillway budget list --format csv > budgets.csv']);
  list.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<BudgetOptions & { readonly all?: boolean }>();
    const answer = await withClient(flags, app.ctx, (client) =>
      fetchList<'budgets', BudgetView>(client, '/v1/budgets', 'budgets', flags.all === true),
    );
    app.ctx.stdout.write(
      render(
        flags.format,
        answer,
        () => budgetTable(answer.budgets),
        () => budgetCsvTable(answer.budgets),
      ),
    );
  });

  budgetForecastCommand(budget, app);

  const remove = defineCommand(budget, 'delete', 'delete a budget (its alerts are kept)').argument(
    '<id>',
    'the budget id (from budget list) or its name',
  );
  addConnectionOptions(remove);
  addFormatOption(remove, ['table', 'json']);
  addExamples(remove, ['spillway budget delete ml-daily', 'spillway budget delete bud-3f1c...']);
  remove.action(async (id: string, _options: unknown, self: Command) => {
    const flags = self.opts<BudgetOptions>();
    const path = `/v1/budgets/${parseIdArgument('ID', id)}`;
    const deleted = await withClient(flags, app.ctx, (client) => client.delete<BudgetView>(path));
    app.ctx.stdout.write(
      flags.format === 'json' ? renderJson(deleted) : `deleted budget ${deleted.name} (${deleted.id})\n`,
    );
  });

  const alerts = defineCommand(
    budget,
    'alerts',
    'list the 50, 80 and 100 percent alerts budgets raised, newest first',
  ).option('--limit <n>', 'at most N alerts (1 to 1000; default 100)');
  addConnectionOptions(alerts);
  addFormatOption(alerts, ['table', 'json', 'csv']);
  addExamples(alerts, ['spillway budget alerts', 'spillway budget alerts --limit 10 --format json']);
  alerts.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<BudgetOptions & { readonly limit?: string }>();
    const query =
      flags.limit === undefined ? '' : `?limit=${parseIntFlag('--limit', flags.limit, { min: 1, max: 1_000 })}`;
    const answer = await withClient(flags, app.ctx, (client) =>
      client.get<{ alerts: BudgetAlertView[] }>(`/v1/budgets/alerts${query}`),
    );
    app.ctx.stdout.write(render(flags.format, answer, () => alertTable(answer.alerts)));
  });
}
