import type { Command } from 'commander';
import type { BudgetForecastView } from '../../api/types.ts';
import { describeScope } from '../../cost-model/budget.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { render, type OutputFormat, type Table } from '../format.ts';

interface ForecastOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

/** `spillway budget forecast`: each budget's spend so far and its forecast to the period's end. */
export function budgetForecastCommand(budget: Command, app: CliApp): void {
  const cmd = defineCommand(
    budget,
    'forecast',
    "each budget's spend in its period and the forecast to the period's end at the last hour's rate",
  );
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json', 'csv']);
  addExamples(cmd, ['spillway budget forecast', 'spillway budget forecast --format csv > forecast.csv']);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<ForecastOptions>();
    const answer = await withClient(flags, app.ctx, (client) =>
      client.get<{ forecasts: BudgetForecastView[] }>('/v1/budgets/forecasts'),
    );
    app.ctx.stdout.write(render(flags.format, answer, () => forecastTable(answer.forecasts)));
  });
}

export function forecastTable(forecasts: readonly BudgetForecastView[]): Table {
  return {
    columns: [
      { header: 'NAME' },
      { header: 'SCOPE' },
      { header: 'PERIOD' },
      { header: 'CAP USD', align: 'right' },
      { header: 'SPENT USD', align: 'right' },
      { header: 'RATE USD/H', align: 'right' },
      { header: 'FORECAST USD', align: 'right' },
      { header: 'OVER CAP' },
    ],
    rows: forecasts.map((f) => [
      f.name,
      describeScope(f.scope),
      f.period,
      f.capUsd,
      f.spentUsd,
      f.ratePerHourUsd,
      f.forecastUsd,
      f.overCap ? 'yes' : 'no',
    ]),
  };
}
