import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { errorMessage } from '../core/errors.ts';
import { OutputTail } from './output-tail.ts';

/** How a task's process ended. */
export interface TaskExit {
  /** The process's exit code; 128 + the signal number when a signal ended it; 127 when it could not start. */
  readonly exitCode: number;
  readonly signal: NodeJS.Signals | null;
  readonly outputTail: string;
}

export interface StartTaskOptions {
  readonly taskId: string;
  /** argv; `command[0]` is looked up on PATH. No shell is involved, so `$HOME` or `*` stay literal. */
  readonly command: readonly string[];
  readonly outputTailBytes: number;
  /** The environment the task starts from; default this process's. SPILLWAY_TASK_ID is added. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Exit code of a command that could not be started, as shells report it. */
export const SPAWN_FAILED_EXIT_CODE = 127;

/** How long to wait for a task's pipes to close after its main process exited. */
const PIPE_CLOSE_WAIT_MS = 2_000;

/** Variables a task must not inherit from the agent: the agent's own credentials. */
const SECRET_ENV_KEYS = [
  'SPILLWAY_TOKEN',
  'SPILLWAY_BOOT_SCRIPT',
  'SPILLWAY_IDENTITY_DOCUMENT',
  'SPILLWAY_IDENTITY_SIGNATURE',
] as const;

/**
 * One task's process. It runs in its own process group (and session), so `kill` reaches everything it started
 * that did not leave the group. A task is its process group: when the main process exits, whatever it left behind
 * in the group is killed, so no task outlives its report.
 */
export class TaskProcess {
  readonly taskId: string;
  /** The process id, also the process group id; undefined when the process could not start. */
  readonly pid: number | undefined;
  /** Resolves once, when the process has exited and its output is read. Never rejects. */
  readonly done: Promise<TaskExit>;
  readonly #tail: OutputTail;
  #exit: TaskExit | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(opts: StartTaskOptions) {
    this.taskId = opts.taskId;
    this.#tail = new OutputTail(opts.outputTailBytes);
    const { promise, resolve } = Promise.withResolvers<TaskExit>();
    this.done = promise;
    const finish = (exitCode: number, signal: NodeJS.Signals | null): void => {
      if (this.#exit) return;
      clearTimeout(this.#killTimer);
      this.#exit = { exitCode, signal, outputTail: this.#tail.text() };
      resolve(this.#exit);
    };
    const failToStart = (err: unknown): void => {
      this.#tail.append(`starting task ${opts.taskId}: ${errorMessage(err)}\n`);
      finish(SPAWN_FAILED_EXIT_CODE, null);
    };

    const [file, ...args] = opts.command;
    if (file === undefined || file === '') {
      this.pid = undefined;
      failToStart(new Error('the task has no command'));
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: taskEnv(opts.env ?? process.env, opts.taskId),
      });
    } catch (err) {
      // Invalid arguments (a NUL byte in argv) throw synchronously.
      this.pid = undefined;
      failToStart(err);
      return;
    }
    this.pid = child.pid;
    child.stdout?.on('data', (chunk: Buffer) => this.#tail.append(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.#tail.append(chunk));
    child.on('error', (err) => {
      // ENOENT, EACCES: the process never started. Later errors (a failed kill) change nothing.
      if (child.pid === undefined) failToStart(err);
    });
    child.on('exit', (code, signal) => {
      if (child.pid === undefined) return;
      // Leftovers in the group would hold the pipes open and outlive the task.
      signalGroup(child.pid, 'SIGKILL');
      // A process that left the group may still hold the pipes: stop waiting for them after a while.
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code ?? 128 + signalNumber(signal), signal);
      }, PIPE_CLOSE_WAIT_MS).unref();
    });
    child.on('close', (code, signal) => {
      if (child.pid === undefined) return;
      finish(code ?? 128 + signalNumber(signal), signal);
    });
  }

  /** True once the process has exited and `done` has its result. */
  get finished(): boolean {
    return this.#exit !== undefined;
  }

  /** The current tail of combined stdout and stderr. */
  outputTail(): string {
    return this.#exit?.outputTail ?? this.#tail.text();
  }

  /** Grows whenever output arrives. */
  get outputVersion(): number {
    return this.#tail.version;
  }

  /**
   * Sends SIGTERM to the task's process group, then SIGKILL after `graceMs` if it is still running. Resolves when the
   * process has exited. Calling it again, or after the exit, is harmless.
   */
  kill(graceMs: number): Promise<TaskExit> {
    if (this.#exit || this.pid === undefined) return this.done;
    const pid = this.pid;
    signalGroup(pid, 'SIGTERM');
    if (this.#killTimer === undefined) {
      this.#killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    }
    return this.done;
  }
}

/** Starts a task's process. Never throws: a command that cannot start ends at once with exit code 127. */
export function startTask(opts: StartTaskOptions): TaskProcess {
  return new TaskProcess(opts);
}

function taskEnv(base: NodeJS.ProcessEnv, taskId: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, SPILLWAY_TASK_ID: taskId };
  for (const key of SECRET_ENV_KEYS) delete env[key];
  return env;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  if (signal === null) return 0;
  return osConstants.signals[signal] ?? 0;
}
