import type { Command } from 'commander';
import type { ProviderStatus, Status } from '../../api/types.ts';
import { TaskState } from '../../core/task.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { formatUsdPerHour, renderFields, renderJson, renderTable, type OutputFormat } from '../format.ts';
import { usedOfTotal } from './agents.ts';

interface StatusOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

/**
 * The pool at a glance: the kill switch, spend, task counts by state, one line per location, then each provider's
 * health with the reason of every open launch breaker.
 */
export function renderStatus(status: Status): string {
  const counts = Object.values(TaskState)
    .map((state) => `${state} ${status.tasks[state] ?? 0}`)
    .join(', ');
  const header = renderFields([
    ['cluster', status.clusterId],
    ['launches', status.paused ? 'PAUSED: nothing will be launched (`spillway resume` lifts it)' : 'active'],
    ['controller', status.leader ? 'leader (runs the control loop)' : 'standby (another controller holds the lease)'],
    ['cloud spend', `${formatUsdPerHour(status.cloudSpendPerHourUsd)} for the cloud agents alive now`],
    ['agents', agentCountsSummary(status)],
    ['tasks', counts],
    ['pending', `${status.tasks.pending ?? 0} task(s) waiting for room`],
    ['isolation', isolationSummary(status)],
  ]);
  const providers = renderProviders(status.providers);
  if (status.locations.length === 0) return `${header}\nno agents yet\n${providers}`;
  const locations = renderTable({
    columns: [
      { header: 'LOCATION' },
      { header: 'KIND' },
      { header: 'AGENTS', align: 'right' },
      { header: 'CPU USED', align: 'right' },
      { header: 'MEMORY USED', align: 'right' },
      { header: 'GPUS USED', align: 'right' },
      { header: 'SPEND', align: 'right' },
    ],
    rows: status.locations.map((l) => {
      const use = usedOfTotal(l.allocated, l.capacity);
      return [
        l.location,
        l.kind,
        l.agents,
        use.cpu,
        use.memory,
        use.gpus,
        l.kind === 'cloud' ? formatUsdPerHour(l.pricePerHourUsd) : '-',
      ];
    }),
  });
  return `${header}\n${locations}${providers}`;
}

/** One line per provider (health, open breakers), each open breaker's reason under it; nothing without providers. */
export function renderProviders(providers: readonly ProviderStatus[]): string {
  if (providers.length === 0) return '';
  const table = renderTable({
    columns: [{ header: 'PROVIDER' }, { header: 'HEALTH' }, { header: 'OPEN BREAKERS', align: 'right' }],
    rows: providers.map((p) => [p.id, p.health, p.breakers.length]),
  });
  const reasons = providers.flatMap((p) => p.breakers.map((b) => `  ${b.reason}\n`));
  const hint = reasons.length > 0 ? '  (fix the cause, then `spillway providers retry NAME` to try again now)\n' : '';
  const terminations = providers.flatMap((p) =>
    p.failingTerminations.map(
      (t) => `  ${p.id} has not terminated ${t.instanceIds.join(', ')} after ${t.attempts} attempts: ${t.error}\n`,
    ),
  );
  return `\n${table}${reasons.join('')}${hint}${terminations.join('')}`;
}

/** How the registered and draining agents isolate their tasks: `cgroup-v1 3, none 1`. */
function isolationSummary(status: Status): string {
  const counts = Object.entries(status.isolation).filter(([, n]) => n > 0);
  if (counts.length === 0) return 'no registered agents';
  return counts.sort(([a], [b]) => a.localeCompare(b)).map(([mode, n]) => `${mode} ${n}`).join(', ');
}

/** `registered 3, provisioning 1, draining 0, lost 0`. */
function agentCountsSummary(status: Status): string {
  const c = status.agentCounts;
  return `registered ${c.registered}, provisioning ${c.provisioning}, draining ${c.draining}, lost ${c.lost}`;
}

export function statusCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(
    parent,
    'status',
    "show the pool by location, task counts, cloud spend, the pause switch and each provider's health",
  );
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json']);
  addExamples(cmd, [
    'spillway status',
    'spillway status --format json | jq .tasks.pending',
    'watch -n1 npx spillway status',
  ]);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<StatusOptions>();
    const status = await withClient(flags, app.ctx, (client) => client.get<Status>('/v1/status'));
    app.ctx.stdout.write(flags.format === 'json' ? renderJson(status) : renderStatus(status));
  });
}
