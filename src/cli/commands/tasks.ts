import type { Command } from 'commander';
import { formatResources } from '../../core/resources.ts';
import { TaskState, type Task } from '../../core/task.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { fetchList } from '../pages.ts';
import { escapeControl } from '../terminal-text.ts';
import { parseChoiceList, parseIdArgument, parseIntFlag, parseNameFlag } from '../flags.ts';
import {
  formatAge,
  formatTime,
  quoteArgv,
  render,
  renderFields,
  renderJson,
  type OutputFormat,
  type Table,
} from '../format.ts';

interface ListOptions extends ConnectionFlags {
  readonly state?: string;
  readonly team?: string;
  readonly project?: string;
  readonly limit?: string;
  readonly all?: boolean;
  readonly format: OutputFormat;
}

interface ItemOptions extends ConnectionFlags {
  readonly format: OutputFormat;
  readonly raw?: boolean;
}

/** The query of GET /v1/tasks from the list flags; validates every value. */
export function taskListQuery(flags: Omit<ListOptions, 'format' | 'all'>): string {
  const query = new URLSearchParams();
  if (flags.state !== undefined)
    query.set('state', parseChoiceList('--state', flags.state, Object.values(TaskState)).join(','));
  if (flags.team !== undefined) query.set('team', parseNameFlag('--team', flags.team));
  if (flags.project !== undefined) query.set('project', parseNameFlag('--project', flags.project));
  if (flags.limit !== undefined)
    query.set('limit', String(parseIntFlag('--limit', flags.limit, { min: 1, max: 1_000 })));
  const text = query.toString();
  return text ? `?${text}` : '';
}

export function taskTable(tasks: readonly Task[], nowMs: number): Table {
  return {
    columns: [
      { header: 'ID' },
      { header: 'STATE' },
      { header: 'OWNER' },
      { header: 'RESOURCES' },
      { header: 'PRIO', align: 'right' },
      { header: 'AGENT' },
      { header: 'TRIES', align: 'right' },
      { header: 'EXIT', align: 'right' },
      { header: 'AGE', align: 'right' },
      { header: 'COMMAND' },
    ],
    rows: tasks.map((t) => [
      t.id,
      t.state,
      `${t.owner.team}/${t.owner.project}/${t.owner.job}`,
      formatResources(t.resources),
      t.priority,
      t.agentId ?? '-',
      t.attempts,
      t.exitCode ?? '-',
      formatAge(nowMs - t.createdAtMs),
      quoteArgv(t.command),
    ]),
  };
}

/** One column per field, raw units, ISO times: for spreadsheets. */
export function taskCsvTable(tasks: readonly Task[]): Table {
  const headers = [
    'id',
    'state',
    'team',
    'project',
    'job',
    'cpuMillis',
    'memoryMiB',
    'gpus',
    'netMbps',
    'priority',
    'revocable',
    'agentId',
    'attempts',
    'exitCode',
    'createdAt',
    'startedAt',
    'finishedAt',
    'reason',
    'command',
  ];
  return {
    columns: headers.map((header) => ({ header })),
    rows: tasks.map((t) => [
      t.id,
      t.state,
      t.owner.team,
      t.owner.project,
      t.owner.job,
      t.resources.cpuMillis,
      t.resources.memoryMiB,
      t.resources.gpus,
      t.resources.netMbps,
      t.priority,
      t.revocable,
      t.agentId,
      t.attempts,
      t.exitCode,
      formatTime(t.createdAtMs),
      formatTime(t.startedAtMs),
      formatTime(t.finishedAtMs),
      t.reason,
      quoteArgv(t.command),
    ]),
  };
}

/**
 * A task for a person: its fields, then its output tail, control characters escaped (a task's output must not drive
 * the terminal) unless `raw`.
 */
export function renderTaskDetail(t: Task, raw = false): string {
  const constraints = Object.keys(t.constraints).length ? JSON.stringify(t.constraints) : '-';
  const fields = renderFields([
    ['id', t.id],
    ['state', t.state],
    ['reason', t.reason || '-'],
    ['owner', `team=${t.owner.team} project=${t.owner.project} job=${t.owner.job}`],
    ['command', quoteArgv(t.command)],
    ['resources', formatResources(t.resources)],
    ['priority', t.priority],
    ['revocable', t.revocable],
    ['constraints', constraints],
    ['agent', t.agentId ?? '-'],
    ['attempts', t.attempts],
    ['exit code', t.exitCode ?? '-'],
    ['created', formatTime(t.createdAtMs)],
    ['started', formatTime(t.startedAtMs) || '-'],
    ['finished', formatTime(t.finishedAtMs) || '-'],
  ]);
  const output = raw ? t.outputTail : escapeControl(t.outputTail);
  const tail = output ? `\noutput (tail):\n${output.endsWith('\n') ? output : `${output}\n`}` : '';
  return fields + tail;
}

export function tasksCommand(parent: Command, app: CliApp): void {
  const tasks = defineCommand(parent, 'tasks', 'list tasks, newest first; `tasks show` and `tasks cancel` act on one')
    .option('--state <states>', `only these states, comma-separated: ${Object.values(TaskState).join(', ')}`)
    .option('--team <team>', 'only this team')
    .option('--project <project>', 'only this project')
    .option('--limit <n>', 'at most N tasks a page (1 to 1000; default 100)')
    .option('--all', 'every task: follow the pages to the end');
  addConnectionOptions(tasks);
  addFormatOption(tasks, ['table', 'json', 'csv']);
  addExamples(tasks, [
    'spillway tasks',
    'spillway tasks --state pending,running --team ml --limit 20',
    'spillway tasks --format csv > tasks.csv',
    'spillway tasks show t-0b6f4f1e-...',
  ]);
  tasks.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<ListOptions>();
    const query = taskListQuery(flags);
    const answer = await withClient(flags, app.ctx, (client) =>
      fetchList<'tasks', Task>(client, `/v1/tasks${query}`, 'tasks', flags.all === true),
    );
    const now = Date.now();
    app.ctx.stdout.write(
      render(
        flags.format,
        answer,
        () => taskTable(answer.tasks, now),
        () => taskCsvTable(answer.tasks),
      ),
    );
  });

  const show = defineCommand(tasks, 'show', 'show one task: its state, where it runs, its exit code and output tail')
    .argument('<id>', 'the task id (from submit or tasks)')
    .option('--raw', 'print the output tail as it is, escape sequences and all (default: they are shown escaped)');
  addConnectionOptions(show);
  addFormatOption(show, ['table', 'json']);
  addExamples(show, [
    'spillway tasks show t-0b6f4f1e-...',
    'spillway tasks show t-0b6f4f1e-... --format json | jq .outputTail',
  ]);
  show.action(async (id: string, _options: unknown, self: Command) => {
    const flags = self.opts<ItemOptions>();
    const path = `/v1/tasks/${parseIdArgument('ID', id)}`;
    const task = await withClient(flags, app.ctx, (client) => client.get<Task>(path));
    app.ctx.stdout.write(flags.format === 'json' ? renderJson(task) : renderTaskDetail(task, flags.raw === true));
  });

  const cancel = defineCommand(tasks, 'cancel', 'cancel a task; a running one is stopped on its agent').argument(
    '<id>',
    'the task id',
  );
  addConnectionOptions(cancel);
  addFormatOption(cancel, ['table', 'json']);
  addExamples(cancel, ['spillway tasks cancel t-0b6f4f1e-...']);
  cancel.action(async (id: string, _options: unknown, self: Command) => {
    const flags = self.opts<ItemOptions>();
    const path = `/v1/tasks/${parseIdArgument('ID', id)}/cancel`;
    const task = await withClient(flags, app.ctx, (client) => client.post<Task>(path));
    app.ctx.stdout.write(flags.format === 'json' ? renderJson(task) : `${task.id} ${task.state}\n`);
  });
}
