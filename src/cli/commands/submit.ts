import type { Command } from 'commander';
import type { Task } from '../../core/task.ts';
import {
  addConnectionOptions,
  addExamples,
  addFormatOption,
  addTaskOptions,
  defineCommand,
  type CliApp,
} from '../common-options.ts';
import type { ConnectionFlags } from '../connection.ts';
import { withClient } from '../connection.ts';
import { render, type OutputFormat } from '../format.ts';
import { submitRequestFromFlags, type TaskFlags } from '../task-spec.ts';

interface SubmitOptions extends TaskFlags, ConnectionFlags {
  readonly count?: string;
  readonly format: OutputFormat;
}

export function submitCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(parent, 'submit', 'submit tasks to the pool and print their ids')
    .argument('<cmd...>', 'the command each task runs; put it after --')
    .option('--count <n>', 'submit N identical tasks, all accepted or none (default: 1, at most 1000)')
    // Flags after the command belong to the command: `submit --cpu 1 --memory 1Gi -- ls -l`.
    .passThroughOptions();
  addTaskOptions(cmd);
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json', 'csv']);
  addExamples(cmd, [
    'spillway submit --cpu 1 --memory 512Mi -- echo hello',
    'spillway submit --cpu 2 --memory 4Gi --team ml --project vision --job sweep-7 --count 20 --revocable -- python train.py --lr 0.1',
    'spillway submit --cpu 500m --memory 256Mi --private-only --format json -- ./nightly.sh',
  ]);
  cmd.action(async (command: string[], _options: unknown, self: Command) => {
    const flags = self.opts<SubmitOptions>();
    const body = submitRequestFromFlags(flags, command);
    const answer = await withClient(flags, app.ctx, (client) => client.post<{ tasks: Task[] }>('/v1/tasks', body));
    // In a table, only the ids, one per line, so `ids=$(spillway submit ...)` just works.
    const text =
      flags.format === 'table'
        ? answer.tasks.map((task) => `${task.id}\n`).join('')
        : render(flags.format, answer, () => ({ columns: [{ header: 'ID' }], rows: answer.tasks.map((t) => [t.id]) }));
    app.ctx.stdout.write(text);
  });
}
