import type { Command } from 'commander';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiError, type ApiClient } from '../../api/client.ts';
import { SpillwayError } from '../../core/errors.ts';
import { TERMINAL_TASK_STATES, type Task } from '../../core/task.ts';
import {
  addConnectionOptions,
  addExamples,
  addFormatOption,
  addTaskOptions,
  defineCommand,
  type CliApp,
} from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { writeLines } from '../context.ts';
import { ExitCode, describeError } from '../exit-codes.ts';
import { formatAge, renderJson, type OutputFormat } from '../format.ts';
import { taskSpecFromFlags, type TaskFlags } from '../task-spec.ts';
import { escapeControl } from '../terminal-text.ts';

interface RunOptions extends TaskFlags, ConnectionFlags {
  readonly format: OutputFormat;
  readonly raw?: boolean;
}

/** How often `run` asks for the task. */
export const POLL_INTERVAL_MS = 500;
/** How long `run` keeps polling through network errors (a controller restart) before it gives up. */
export const UNREACHABLE_LIMIT_MS = 60_000;

/**
 * The exit code `run` ends with: 0 when the task succeeded, its own exit code (1 to 255) when it failed, 1 when it
 * failed without one (its agent was lost, it could not start), 130 when it was cancelled.
 */
export function exitCodeForTask(task: Pick<Task, 'state' | 'exitCode'>): number {
  if (task.state === 'succeeded') return ExitCode.ok;
  if (task.state === 'cancelled') return ExitCode.cancelled;
  const code = task.exitCode;
  return code !== null && Number.isInteger(code) && code >= 1 && code <= 255 ? code : ExitCode.failure;
}

export interface WaitOptions {
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (task: Task) => void;
}

/** Polls GET /v1/tasks/{id} until the task is succeeded, failed or cancelled, riding out a short outage. */
export async function waitForTask(client: ApiClient, id: string, opts: WaitOptions = {}): Promise<Task> {
  const path = `/v1/tasks/${encodeURIComponent(id)}`;
  let unreachableSince: number | undefined;
  for (;;) {
    try {
      const task = await client.get<Task>(path, { signal: opts.signal });
      unreachableSince = undefined;
      opts.onProgress?.(task);
      if (TERMINAL_TASK_STATES.has(task.state)) return task;
    } catch (err) {
      const transient = err instanceof SpillwayError && !(err instanceof ApiError) && err.retryable;
      if (!transient || opts.signal?.aborted) throw err;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > UNREACHABLE_LIMIT_MS) throw err;
    }
    await delay(opts.intervalMs ?? POLL_INTERVAL_MS, undefined, { signal: opts.signal });
  }
}

export function runCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(parent, 'run', 'run one task, wait for it, print its output and exit with its exit code')
    .argument('<cmd...>', 'the command the task runs; put it after --')
    .option('--raw', "print the task's output as it is, escape sequences and all (default: they are shown escaped)")
    .passThroughOptions();
  addTaskOptions(cmd);
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json']);
  addExamples(cmd, [
    'spillway run --cpu 1 --memory 512Mi -- echo hello',
    'spillway run --cpu 4 --memory 8Gi --team ml --revocable -- python train.py --epochs 3 || echo "failed: $?"',
  ]);
  cmd.addHelpText(
    'after',
    "\nExit status: the task's own exit code; 0 when it succeeded; 1 when it failed without a code or the API failed;\n" +
      '2 for a bad flag (nothing submitted); 130 when the task was cancelled. Ctrl-C cancels the task.\n',
  );
  cmd.action(async (command: string[], _options: unknown, self: Command) => {
    const flags = self.opts<RunOptions>();
    const body = { tasks: [taskSpecFromFlags(flags, command)] };
    const { stderr } = app.ctx;
    const tty = stderr.isTTY === true;
    await withClient(flags, app.ctx, async (client) => {
      const submitted = await client.post<{ tasks: Task[] }>('/v1/tasks', body);
      const id = submitted.tasks[0]?.id;
      if (id === undefined) throw new SpillwayError('submitting the task: the server answered without a task');
      if (!tty) stderr.write(`submitted ${id}\n`);

      // The first Ctrl-C cancels the task and keeps waiting for the cancel to land; a second one stops waiting.
      const abort = new AbortController();
      let interrupts = 0;
      const onInterrupt = (): void => {
        interrupts += 1;
        if (interrupts > 1) return abort.abort();
        stderr.write(`${tty ? '\n' : ''}cancelling ${id} (Ctrl-C again to stop waiting)\n`);
        client
          .post(`/v1/tasks/${encodeURIComponent(id)}/cancel`)
          .catch((err: unknown) => stderr.write(`could not cancel ${id}: ${describeError(err)}\n`));
      };
      process.on('SIGINT', onInterrupt);
      const startedMs = Date.now();
      let task: Task;
      try {
        task = await waitForTask(client, id, {
          signal: abort.signal,
          onProgress: (t) => {
            if (!tty) return;
            const where = t.agentId ? ` on ${t.agentId}` : '';
            stderr.write(`\r\x1b[K${id} ${t.state}${where} ${formatAge(Date.now() - startedMs)}`);
          },
        });
      } catch (err) {
        if (abort.signal.aborted) {
          stderr.write(`${tty ? '\r\x1b[K' : ''}stopped waiting for ${id}\n`);
          app.setExitCode(ExitCode.cancelled);
          return;
        }
        throw err;
      } finally {
        process.off('SIGINT', onInterrupt);
      }
      if (tty) stderr.write('\r\x1b[K');
      const code = exitCodeForTask(task);
      if (flags.format === 'json') {
        app.ctx.stdout.write(renderJson(task));
      } else {
        writeLines(app.ctx.stdout, flags.raw === true ? task.outputTail : escapeControl(task.outputTail));
        const exit = task.exitCode === null ? '' : ` with exit code ${task.exitCode}`;
        const reason = task.reason ? `: ${task.reason}` : '';
        stderr.write(`${id} ${task.state}${exit}${task.state === 'succeeded' ? '' : reason}\n`);
      }
      app.setExitCode(code);
    });
  });
}
