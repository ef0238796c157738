import type { Command } from 'commander';
import type { DecisionView } from '../../api/types.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { parseIntFlag } from '../flags.ts';
import { formatTime, formatUsdPerHour, render, type OutputFormat, type Table } from '../format.ts';

interface DecisionsOptions extends ConnectionFlags {
  readonly format: OutputFormat;
  readonly limit?: string;
}

/** `spillway decisions`: the controller's recent launch and terminate decisions with their reasons. */
export function decisionsCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(
    parent,
    'decisions',
    'recent launch and terminate decisions, newest first, with their reasons',
  ).option('--limit <n>', 'how many (1 to 1,000)', '20');
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json']);
  addExamples(cmd, ['spillway decisions', 'spillway decisions --limit 100 --format json']);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<DecisionsOptions>();
    const limit = parseIntFlag('--limit', flags.limit ?? '20', { min: 1, max: 1_000 });
    const answer = await withClient(flags, app.ctx, (client) =>
      client.get<{ decisions: DecisionView[]; next: string | null }>(`/v1/decisions?limit=${limit}`),
    );
    app.ctx.stdout.write(render(flags.format, answer, () => decisionTable(answer.decisions)));
  });
}

export function decisionTable(decisions: readonly DecisionView[]): Table {
  return {
    columns: [{ header: 'WHEN' }, { header: 'DECISION' }, { header: 'FOR' }, { header: 'STATE' }, { header: 'REASON' }],
    rows: decisions.map((d) => [
      formatTime(d.createdAtMs),
      d.kind === 'terminate'
        ? `terminate ${d.instanceIds.join(',')}`
        : `launch ${d.count ?? 0} x ${d.offering?.instanceType ?? ''} (${d.offering?.lifecycle ?? ''}) in ${d.offering?.zone ?? ''} at ${formatUsdPerHour(d.offering?.pricePerHourUsd ?? 0)}`,
      (d.owners ?? []).map((o) => `${o.team}/${o.project}`).join(',') || '-',
      d.error ? `${d.state}: ${d.error}` : d.state,
      d.reason,
    ]),
  };
}
