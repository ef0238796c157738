import type { ApiClient } from '../api/client.ts';
import { errorMessage } from '../core/errors.ts';
import { systemClock } from '../core/clock.ts';
import type { Logger } from '../log/logger.ts';
import type { ReportRequest } from './protocol.ts';
import { backoffDelayMs, isTransient, statusOf, type Backoff } from './retry.ts';

interface TaskQueue {
  /** The next report to send; a newer output report replaces an unsent one. */
  pending: ReportRequest | undefined;
  /** Set once an exit or handback report was queued: later output reports are stale. */
  final: boolean;
  sending: boolean;
}

/**
 * Delivers task reports to the controller, in order per task. Output reports are "latest wins": an unsent one is
 * replaced by a newer one, and none is sent after the task's final (exit or handback) report. Network failures,
 * 5xx and 429 are retried with backoff until the report is accepted or the reporter is closed. A 404 or 409 answer
 * means the controller no longer wants the report (the task was cancelled or moved): it is dropped. Other refusals
 * are dropped with a warning: the heartbeat notices a revoked agent.
 */
export class TaskReporter {
  readonly #client: ApiClient;
  readonly #agentId: string;
  readonly #logger: Logger;
  readonly #backoff: Backoff;
  readonly #abort = new AbortController();
  readonly #queues = new Map<string, TaskQueue>();
  #idleWaiters: Array<(idle: boolean) => void> = [];

  constructor(opts: { client: ApiClient; agentId: string; logger: Logger; backoff: Backoff }) {
    this.#client = opts.client;
    this.#agentId = opts.agentId;
    this.#logger = opts.logger;
    this.#backoff = opts.backoff;
  }

  /** Queues a report for delivery. Does nothing after `close()`. */
  submit(taskId: string, report: ReportRequest): void {
    if (this.#abort.signal.aborted) return;
    let queue = this.#queues.get(taskId);
    if (!queue) {
      queue = { pending: undefined, final: false, sending: false };
      this.#queues.set(taskId, queue);
    }
    if (queue.final && report.kind === 'output') return;
    if (report.kind !== 'output') queue.final = true;
    queue.pending = report;
    if (!queue.sending) void this.#pump(taskId, queue);
  }

  /** Resolves true when every queued report was delivered or dropped, false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#queues.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = (idle: boolean): void => {
        clearTimeout(timer);
        resolve(idle);
      };
      this.#idleWaiters.push(waiter);
    });
  }

  /** The tasks with reports not yet delivered. */
  undelivered(): string[] {
    return [...this.#queues.keys()];
  }

  /** The tasks whose final (exit or handback) report is queued and not yet delivered or dropped. */
  undeliveredEnds(): string[] {
    const ids: string[] = [];
    for (const [taskId, queue] of this.#queues) if (queue.final) ids.push(taskId);
    return ids;
  }

  /** Stops every retry; undelivered reports are lost. */
  close(): void {
    this.#abort.abort(new Error('the reporter is closed'));
  }

  async #pump(taskId: string, queue: TaskQueue): Promise<void> {
    queue.sending = true;
    let attempt = 0;
    while (queue.pending && !this.#abort.signal.aborted) {
      const report = queue.pending;
      queue.pending = undefined;
      try {
        await this.#client.post(
          `/v1/agents/${encodeURIComponent(this.#agentId)}/tasks/${encodeURIComponent(taskId)}/report`,
          report,
          { signal: this.#abort.signal },
        );
        attempt = 0;
      } catch (err) {
        if (this.#abort.signal.aborted) break;
        const status = statusOf(err);
        if (isTransient(err)) {
          // Keep it unless a newer report replaced it meanwhile.
          queue.pending ??= report;
          const delayMs = backoffDelayMs(attempt, this.#backoff);
          attempt += 1;
          this.#logger.warn('retrying task report', {
            taskId,
            kind: report.kind,
            attempt,
            delayMs,
            error: errorMessage(err),
          });
          await systemClock.sleep(delayMs, { signal: this.#abort.signal }).catch(() => undefined);
        } else if (status === 404 || status === 409) {
          this.#logger.info('dropped task report the controller no longer wants', {
            taskId,
            kind: report.kind,
            status,
          });
        } else {
          this.#logger.warn('dropped task report the controller refused', {
            taskId,
            kind: report.kind,
            status,
            error: errorMessage(err),
          });
        }
      }
    }
    queue.sending = false;
    if (this.#queues.get(taskId) === queue && !queue.pending) this.#queues.delete(taskId);
    if (this.#queues.size === 0 || this.#abort.signal.aborted) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const waiter of waiters) waiter(this.#queues.size === 0);
    }
  }
}
