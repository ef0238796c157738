import type { Command } from 'commander';
import { AgentState, type Agent } from '../../core/agent.ts';
import { formatLocation } from '../../core/location.ts';
import { microsToUsd } from '../../core/money.ts';
import { formatMemory, type Resources } from '../../core/resources.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { fetchList } from '../pages.ts';
import { parseChoiceList } from '../flags.ts';
import { formatAge, formatTime, formatUsdPerHour, render, type OutputFormat, type Table } from '../format.ts';

interface AgentsOptions extends ConnectionFlags {
  readonly state?: string;
  readonly all?: boolean;
  readonly format: OutputFormat;
}

/** `used/total` per dimension, in the units people read: cores, Mi/Gi. */
export function usedOfTotal(used: Resources, total: Resources): { cpu: string; memory: string; gpus: string } {
  return {
    cpu: `${used.cpuMillis / 1000}/${total.cpuMillis / 1000}`,
    memory: `${formatMemory(used.memoryMiB)}/${formatMemory(total.memoryMiB)}`,
    gpus: `${used.gpus}/${total.gpus}`,
  };
}

export function agentTable(agents: readonly Agent[], nowMs: number): Table {
  return {
    columns: [
      { header: 'ID' },
      { header: 'NAME' },
      { header: 'STATE' },
      { header: 'LOCATION' },
      { header: 'LIFECYCLE' },
      { header: 'ISOLATION' },
      { header: 'CPU', align: 'right' },
      { header: 'MEMORY', align: 'right' },
      { header: 'GPUS', align: 'right' },
      { header: 'PRICE', align: 'right' },
      { header: 'SEEN', align: 'right' },
      { header: 'REASON' },
    ],
    rows: agents.map((a) => {
      const use = usedOfTotal(a.allocated, a.capacity);
      return [
        a.id,
        a.name,
        a.state,
        formatLocation(a.location),
        a.lifecycle,
        a.isolation ?? 'none',
        use.cpu,
        use.memory,
        use.gpus,
        a.pricePerHourMicros ? formatUsdPerHour(microsToUsd(a.pricePerHourMicros)) : '-',
        `${formatAge(nowMs - a.lastHeartbeatMs)} ago`,
        a.reason,
      ];
    }),
  };
}

export function agentCsvTable(agents: readonly Agent[]): Table {
  const headers = [
    'id',
    'name',
    'state',
    'location',
    'lifecycle',
    'isolation',
    'cpuMillis',
    'cpuMillisAllocated',
    'memoryMiB',
    'memoryMiBAllocated',
    'gpus',
    'gpusAllocated',
    'pricePerHourUsd',
    'providerId',
    'instanceId',
    'registeredAt',
    'lastHeartbeatAt',
    'reason',
  ];
  return {
    columns: headers.map((header) => ({ header })),
    rows: agents.map((a) => [
      a.id,
      a.name,
      a.state,
      formatLocation(a.location),
      a.lifecycle,
      a.isolation ?? 'none',
      a.capacity.cpuMillis,
      a.allocated.cpuMillis,
      a.capacity.memoryMiB,
      a.allocated.memoryMiB,
      a.capacity.gpus,
      a.allocated.gpus,
      microsToUsd(a.pricePerHourMicros),
      a.providerId,
      a.instanceId,
      formatTime(a.registeredAtMs),
      formatTime(a.lastHeartbeatMs),
      a.reason,
    ]),
  };
}

export function agentsCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(parent, 'agents', 'list the machines of the pool, private and cloud, with their use')
    .option('--state <states>', `only these states, comma-separated: ${Object.values(AgentState).join(', ')}`)
    .option('--all', 'every agent: follow the pages (100 agents each by default) to the end');
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json', 'csv']);
  addExamples(cmd, ['spillway agents', 'spillway agents --state registered,draining --format json']);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<AgentsOptions>();
    const query =
      flags.state === undefined
        ? ''
        : `?state=${parseChoiceList('--state', flags.state, Object.values(AgentState)).join(',')}`;
    const answer = await withClient(flags, app.ctx, (client) =>
      fetchList<'agents', Agent>(client, `/v1/agents${query}`, 'agents', flags.all === true),
    );
    const now = Date.now();
    app.ctx.stdout.write(
      render(
        flags.format,
        answer,
        () => agentTable(answer.agents, now),
        () => agentCsvTable(answer.agents),
      ),
    );
  });
}
