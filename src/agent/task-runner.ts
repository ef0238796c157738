import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { errorMessage } from '../core/errors.ts';
import type { TaskSandbox, TaskUsage } from './isolation/isolation.ts';
import { OutputTail } from './output-tail.ts';

/** How a task's process ended. */
export interface TaskExit {
  /** The process's exit code; 128 + the signal number when a signal ended it; 127 when it could not start. */
  readonly exitCode: number;
  readonly signal: NodeJS.Signals | null;
  readonly outputTail: string;
  /** Why it failed when the exit code alone does not say: `out of memory: exceeded its 256Mi limit`. */
  readonly reason: string | undefined;
  /** What it used, measured by its cgroup (zero without isolation). */
  readonly usage: TaskUsage;
}

export interface StartTaskOptions {
  readonly taskId: string;
  /** argv; `command[0]` is looked up on PATH. No shell is involved, so `$HOME` or `*` stay literal. */
  readonly command: readonly string[];
  readonly outputTailBytes: number;
  /** Where and as whom the task runs; the isolation made it for this task, and `done` releases it. */
  readonly sandbox: TaskSandbox;
}

/** Exit code of a command that could not be started, as shells report it. */
export const SPAWN_FAILED_EXIT_CODE = 127;

/** How long to wait for a task's pipes to close after its main process exited. */
const PIPE_CLOSE_WAIT_MS = 2_000;

/**
 * Holds an isolated task until the agent has put it in its cgroup: one line on stdin releases it, and it execs the
 * command (looked up on the task's PATH). EOF (the agent died first) ends it before the command ever runs.
 */
const GATE_SCRIPT = 'read _ && exec "$@"';

/**
 * Moves an isolated task into its cgroup before the command runs, with no round trip to the agent: writes its own pid
 * to each file given before `--` (exit 126, the command never run, if one refuses), then execs the command.
 */
const SELF_ATTACH_SCRIPT = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 126; shift; done; shift; exec "$@"';

/**
 * One task's process, started in the sandbox its isolation prepared. It runs in its own process group (and session);
 * with isolation also in its own cgroup, so `kill` reaches everything it started, even what left the group. When the
 * main process exits, whatever it left behind is killed, so no task outlives its report.
 */
export class TaskProcess {
  readonly taskId: string;
  /** The process id, also the process group id; undefined when the process could not start. */
  readonly pid: number | undefined;
  /** Resolves once, when the process has exited and its output is read. Never rejects. */
  readonly done: Promise<TaskExit>;
  readonly #tail: OutputTail;
  readonly #sandbox: TaskSandbox;
  #exit: TaskExit | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(opts: StartTaskOptions) {
    this.taskId = opts.taskId;
    this.#tail = new OutputTail(opts.outputTailBytes);
    const sandbox = opts.sandbox;
    this.#sandbox = sandbox;
    const { promise, resolve } = Promise.withResolvers<TaskExit>();
    this.done = promise;
    const finish = (exitCode: number, signal: NodeJS.Signals | null): void => {
      if (this.#exit) return;
      clearTimeout(this.#killTimer);
      sandbox.release();
      const reason = sandbox.outOfMemoryReason();
      this.#exit = { exitCode, signal, outputTail: this.#tail.text(), reason, usage: sandbox.usage() };
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
    const plan = sandbox.spawn;
    let child: ChildProcess;
    try {
      const [program, argv] =
        plan.selfAttach.length > 0
          ? ['/bin/sh', ['-c', SELF_ATTACH_SCRIPT, 'sh', ...plan.selfAttach, '--', file, ...args]]
          : plan.gated
            ? ['/bin/sh', ['-c', GATE_SCRIPT, 'sh', file, ...args]]
            : [file, args];
      child = spawn(program, argv, {
        detached: true,
        stdio: [plan.gated ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        env: plan.env,
        ...(plan.uid === undefined ? {} : { uid: plan.uid }),
        ...(plan.gid === undefined ? {} : { gid: plan.gid }),
        ...(plan.cwd === undefined ? {} : { cwd: plan.cwd }),
      });
    } catch (err) {
      // Invalid arguments (a NUL byte in argv) throw synchronously.
      this.pid = undefined;
      failToStart(err);
      return;
    }
    this.pid = child.pid;
    if (plan.gated && child.pid !== undefined) {
      try {
        sandbox.attach(child.pid);
        child.stdin?.end('\n');
      } catch (err) {
        sandbox.killAll(child.pid);
        this.#tail.append(`starting task ${opts.taskId}: ${errorMessage(err)}\n`);
      }
    }
    child.stdin?.on('error', () => undefined);
    child.stdout?.on('data', (chunk: Buffer) => this.#tail.append(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.#tail.append(chunk));
    child.on('error', (err) => {
      // ENOENT, EACCES: the process never started. Later errors (a failed kill) change nothing.
      if (child.pid === undefined) failToStart(err);
    });
    child.on('exit', (code, signal) => {
      if (child.pid === undefined) return;
      // Leftovers would hold the pipes open and outlive the task.
      sandbox.killAll(child.pid);
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
    this.#sandbox.signal(pid, 'SIGTERM');
    if (this.#killTimer === undefined) {
      this.#killTimer = setTimeout(() => this.#sandbox.killAll(pid), graceMs);
    }
    return this.done;
  }

  /** SIGKILLs every process of the task at once, synchronously (the agent process is exiting). */
  killNow(): void {
    if (this.#exit || this.pid === undefined) return;
    this.#sandbox.killAll(this.pid);
  }
}

/** Starts a task's process. Never throws: a command that cannot start ends at once with exit code 127. */
export function startTask(opts: StartTaskOptions): TaskProcess {
  return new TaskProcess(opts);
}

function signalNumber(signal: NodeJS.Signals | null): number {
  if (signal === null) return 0;
  return osConstants.signals[signal] ?? 0;
}
