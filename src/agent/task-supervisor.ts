import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Isolation, TaskSandbox } from './isolation/isolation.ts';
import type { AssignedTask } from './protocol.ts';
import type { TaskReporter } from './reporter.ts';
import { withTimeout } from './wait.ts';
import { startTask, type TaskExit, type TaskProcess } from './task-runner.ts';

/** What is reported when a task's process ends. */
type Disposition = 'report-exit' | 'hand-back' | 'drop';

interface RunningTask {
  readonly process: TaskProcess;
  readonly gpuIndexes: readonly number[];
  disposition: Disposition;
  reportedOutputVersion: number;
  /** Set once a kill was sent, so each task is killed and logged once. */
  killed: boolean;
}

export interface TaskSupervisorOptions {
  readonly reporter: TaskReporter;
  readonly logger: Logger;
  readonly outputTailBytes: number;
  readonly killGraceMs: number;
  /** Starts, measures and stops each task apart from the agent. */
  readonly isolation: Isolation;
  /** The agent's GPUs: each task gets indexes of its own from 0 to gpus - 1 in CUDA_VISIBLE_DEVICES. */
  readonly gpus: number;
  /** Why tasks are handed back, asked when a hand-back is reported. */
  readonly handbackReason: () => string;
}

/**
 * The tasks an agent runs: starts them, reports their output and their end through the reporter, and kills them.
 * A task ends in one of three reports: `exit` when it ended by itself, `handback` when the agent killed it to shut
 * down, none when the controller asked for it to be stopped (the controller already decided its fate).
 */
export class TaskSupervisor {
  readonly #opts: TaskSupervisorOptions;
  readonly #log: Logger;
  readonly #tasks = new Map<string, RunningTask>();
  readonly #freeGpus: number[];

  constructor(opts: TaskSupervisorOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#freeGpus = Array.from({ length: opts.gpus }, (_, i) => i);
  }

  /**
   * The tasks this agent holds, for its heartbeat: those it runs and those that ended but whose exit (or hand-back)
   * report is not delivered yet. The controller requeues a task the agent does not list, so a task that just ended
   * must stay listed until the controller has its outcome: dropped from the list first, it would run again.
   */
  heldTaskIds(): string[] {
    const ids = new Set(this.#tasks.keys());
    for (const taskId of this.#opts.reporter.undeliveredEnds()) ids.add(taskId);
    return [...ids];
  }

  /**
   * Starts an assigned task, unless it already runs. While the agent is stopping the task is handed back at once,
   * unstarted: it came in an answer that was already on its way.
   */
  accept(assigned: AssignedTask, stopping: boolean): void {
    if (this.#tasks.has(assigned.id)) return;
    if (stopping) {
      this.#log.info('handed back task assigned while stopping', { taskId: assigned.id });
      this.#opts.reporter.submit(assigned.id, {
        kind: 'handback',
        reason: this.#opts.handbackReason(),
        outputTail: '',
      });
      return;
    }
    const gpuIndexes = this.#freeGpus.splice(0, Math.min(assigned.resources.gpus, this.#freeGpus.length));
    let sandbox: TaskSandbox;
    try {
      sandbox = this.#opts.isolation.prepare({
        taskId: assigned.id,
        resources: assigned.resources,
        env: {},
        gpuIndexes,
        metadataAccess: assigned.metadataAccess === true,
      });
    } catch (err) {
      this.#freeGpus.push(...gpuIndexes);
      const reason = `isolating the task failed: ${errorMessage(err)}`;
      this.#log.error('handed back task it could not isolate', { taskId: assigned.id, error: errorMessage(err) });
      this.#opts.reporter.submit(assigned.id, { kind: 'handback', reason, outputTail: '' });
      return;
    }
    const process = startTask({
      taskId: assigned.id,
      command: assigned.command,
      outputTailBytes: this.#opts.outputTailBytes,
      sandbox,
    });
    const task: RunningTask = {
      process,
      gpuIndexes,
      disposition: 'report-exit',
      reportedOutputVersion: 0,
      killed: false,
    };
    this.#tasks.set(assigned.id, task);
    this.#log.info('started task', { taskId: assigned.id, pid: process.pid, isolation: this.#opts.isolation.mode });
    void process.done.then((exit) => this.#ended(assigned.id, task, exit));
  }

  /** Kills a task the controller no longer wants run (cancelled, requeued), without reporting it. */
  stop(taskId: string): void {
    const task = this.#tasks.get(taskId);
    if (!task || task.process.finished || task.killed) return;
    this.#log.info('stopping task on the controller request', { taskId });
    task.disposition = 'drop';
    task.killed = true;
    void task.process.kill(this.#opts.killGraceMs);
  }

  /** Reports the output tail of every running task whose output changed since its last report. */
  reportOutput(): void {
    for (const [taskId, task] of this.#tasks) {
      const version = task.process.outputVersion;
      if (task.process.finished || version === task.reportedOutputVersion) continue;
      task.reportedOutputVersion = version;
      this.#opts.reporter.submit(taskId, { kind: 'output', outputTail: task.process.outputTail() });
    }
  }

  /** Lets running tasks finish for up to `timeoutMs`, then kills the rest and hands them back. */
  async drain(timeoutMs: number): Promise<void> {
    const running = [...this.#tasks.values()];
    if (running.length === 0) return;
    this.#log.info('draining tasks', { count: running.length, drainTimeoutMs: timeoutMs });
    await withTimeout(Promise.all(running.map((t) => t.process.done)), timeoutMs);
    await this.killAll('hand-back');
  }

  /**
   * SIGKILLs every process of every running task at once, synchronously: for the agent process's own exit, so no task
   * outlives its agent and runs again elsewhere after the controller requeues it.
   */
  killAllNow(): void {
    for (const task of this.#tasks.values()) task.process.killNow();
  }

  /**
   * Kills every task still running (SIGTERM to its group, SIGKILL after the grace) and waits until each exited.
   * `disposition` says what is reported for tasks not already being killed.
   */
  async killAll(disposition: 'hand-back' | 'drop'): Promise<void> {
    const remaining = [...this.#tasks.values()].filter((t) => !t.process.finished);
    const toKill = remaining.filter((t) => !t.killed);
    for (const task of toKill) {
      if (task.disposition === 'report-exit') task.disposition = disposition;
      task.killed = true;
    }
    if (toKill.length > 0) {
      const taskIds = toKill.map((t) => t.process.taskId);
      this.#log.info('killing tasks', { taskIds, killGraceMs: this.#opts.killGraceMs });
    }
    await Promise.all(remaining.map((t) => t.process.kill(this.#opts.killGraceMs)));
  }

  #ended(taskId: string, task: RunningTask, exit: TaskExit): void {
    if (this.#tasks.get(taskId) === task) this.#tasks.delete(taskId);
    this.#freeGpus.push(...task.gpuIndexes);
    const { reporter } = this.#opts;
    if (task.disposition === 'report-exit') {
      const { exitCode, reason, usage } = exit;
      this.#log.info('task exited', { taskId, exitCode, signal: exit.signal, reason, ...usage });
      reporter.submit(taskId, {
        kind: 'exit',
        exitCode,
        outputTail: exit.outputTail,
        ...(reason === undefined ? {} : { reason }),
        usage,
      });
    } else if (task.disposition === 'hand-back') {
      const reason = this.#opts.handbackReason();
      this.#log.info('handed back task', { taskId, reason });
      reporter.submit(taskId, { kind: 'handback', reason, outputTail: exit.outputTail });
    } else {
      this.#log.info('killed task', { taskId, exitCode: exit.exitCode });
    }
  }
}
