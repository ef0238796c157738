import { ApiClient } from '../api/client.ts';
import { systemClock } from '../core/clock.ts';
import { errorMessage, SpillwayError } from '../core/errors.ts';
import type { Logger } from '../log/logger.ts';
import { resolveAgentOptions, type AgentOptions, type ResolvedAgentOptions } from './agent-options.ts';
import {
  AGENT_REQUEST_TIMEOUT_MS,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type LeaveRequest,
  type PullResponse,
} from './protocol.ts';
import { isBootstrapCredential } from '../core/credentials.ts';
import { fetchInstanceIdentity } from './identity.ts';
import { createIsolation } from './isolation/create-isolation.ts';
import type { Isolation } from './isolation/isolation.ts';
import { register } from './registration.ts';
import { interruptionWatcherFor } from './spot-watcher.ts';
import { LABEL_LIFECYCLE, LABEL_PROVIDER } from '../providers/local/offerings.ts';
import { TaskReporter } from './reporter.ts';
import { isTransient, retry, statusOf } from './retry.ts';
import { TaskSupervisor } from './task-supervisor.ts';

export type { AgentOptions } from './agent-options.ts';

export interface AgentHandle {
  /** Resolves when the agent has stopped cleanly; rejects when it gave up (registration, revoked or terminated). */
  readonly done: Promise<void>;
  /** The id the controller gave this agent, once registered. */
  agentId(): string | undefined;
  /**
   * Stops pulling, lets running tasks finish for up to `drainTimeoutMs`, kills and hands back the rest, leaves the
   * pool. Idempotent. Resolves when the agent has stopped, whether or not `done` rejected.
   */
  stop(reason: string): Promise<void>;
}

/**
 * Starts an agent: it registers, then heartbeats, pulls tasks and runs them as child processes until `stop` is
 * called or the controller no longer accepts it (401, 403 or 404 on a heartbeat or pull: every task is killed and
 * `done` rejects). Throws a ValidationError at once for a bad option.
 */
export function startAgent(opts: AgentOptions): AgentHandle {
  return new Agent(opts);
}

class Agent implements AgentHandle {
  readonly done: Promise<void>;
  readonly #log: Logger;
  readonly #client: ApiClient;
  readonly #opts: ResolvedAgentOptions;
  /** Aborted by `stop`: ends registration and the pull loop's wait. */
  readonly #stopAbort = new AbortController();
  /** Aborted at the very end, or on a fatal answer: ends heartbeats and every call in flight. */
  readonly #lifeAbort = new AbortController();
  readonly #stopRequested = Promise.withResolvers<void>();
  #agentId: string | undefined;
  #reporter: TaskReporter | undefined;
  #tasks: TaskSupervisor | undefined;
  #stopReason = '';
  #fatal: Error | undefined;
  /** A spot interruption notice: `pending` until a heartbeat has carried it to the controller. */
  #interruption: 'none' | 'pending' | 'delivered' = 'none';
  /** Ends the heartbeat loop's pause early (a notice must not wait for the next beat). */
  #wakeHeartbeat: (() => void) | undefined;
  /**
   * The controller's `pulledAtMs` of the latest pull answer whose tasks the supervisor holds; every heartbeat echoes
   * it, so a task handed over in an answer still on its way is not taken for a lost one.
   */
  #pulledThroughMs: number | undefined;

  constructor(opts: AgentOptions) {
    this.#opts = resolveAgentOptions(opts);
    this.#log = opts.logger.child({ component: 'agent' });
    this.#client = new ApiClient({
      url: this.#opts.urls,
      token: opts.token,
      ca: opts.ca,
      timeoutMs: AGENT_REQUEST_TIMEOUT_MS,
    });
    this.done = this.#run(Date.now() + this.#opts.registerTimeoutMs).finally(() => {
      this.#reporter?.close();
      this.#client.close();
    });
    // `done` is the caller's to await; an agent that is never awaited must not crash the process.
    this.done.catch(() => undefined);
  }

  agentId(): string | undefined {
    return this.#agentId;
  }

  stop(reason: string): Promise<void> {
    if (!this.#stopAbort.signal.aborted) {
      this.#stopReason = reason;
      this.#log.info('stopping agent', { reason, agentId: this.#agentId });
      this.#stopAbort.abort(new Error(`the agent is stopping: ${reason}`));
      this.#stopRequested.resolve();
      this.#wakeHeartbeat?.();
    }
    return this.done.catch(() => undefined);
  }

  get #stopping(): boolean {
    return this.#stopAbort.signal.aborted || this.#fatal !== undefined;
  }

  async #run(registerDeadlineMs: number): Promise<void> {
    const name = this.#opts.name;
    const isolation = createIsolation({ metadataUrl: this.#opts.metadataUrl, ...this.#opts.isolation }, this.#log);
    try {
      await this.#runIsolated(name, isolation, registerDeadlineMs);
    } finally {
      isolation.close();
    }
  }

  async #runIsolated(name: string, isolation: Isolation, registerDeadlineMs: number): Promise<void> {
    let registration;
    try {
      registration = await register({
        client: this.#client,
        token: this.#opts.token,
        request: {
          name,
          capacity: this.#opts.capacity,
          labels: this.#opts.labels,
          ...(this.#opts.instanceId === undefined ? {} : { instanceId: this.#opts.instanceId }),
          ...(this.#opts.site === undefined ? {} : { site: this.#opts.site }),
          isolation: isolation.mode,
        },
        ...(isBootstrapCredential(this.#opts.token)
          ? {
              identity: () =>
                fetchInstanceIdentity({
                  providerId: this.#opts.labels[LABEL_PROVIDER],
                  metadataUrl: this.#opts.metadataUrl,
                  audience: this.#opts.urls[0]!,
                  env: process.env,
                  signal: this.#stopAbort.signal,
                }),
            }
          : {}),
        backoff: this.#opts.backoff,
        deadlineMs: registerDeadlineMs,
        logger: this.#log,
        signal: this.#stopAbort.signal,
      });
    } catch (err) {
      if (this.#stopAbort.signal.aborted) {
        this.#log.info('stopped before registering', { reason: this.#stopReason });
        return;
      }
      throw err;
    }
    const agentId = registration.agentId;
    this.#agentId = agentId;
    this.#client.setToken(registration.token);
    const reporter = new TaskReporter({
      client: this.#client,
      agentId,
      logger: this.#log,
      backoff: this.#opts.backoff,
    });
    this.#reporter = reporter;
    const tasks = new TaskSupervisor({
      reporter,
      logger: this.#log,
      outputTailBytes: this.#opts.outputTailBytes,
      killGraceMs: this.#opts.killGraceMs,
      isolation,
      gpus: this.#opts.capacity.gpus,
      handbackReason: () => truncate(`agent stopping: ${this.#stopReason}`),
    });
    this.#tasks = tasks;
    // However this process ends (an uncaught error, process.exit), its tasks end with it.
    const killTasksOnExit = (): void => tasks.killAllNow();
    process.on('exit', killTasksOnExit);
    this.#log.info('registered agent', {
      agentId,
      name,
      heartbeatIntervalMs: registration.heartbeatIntervalMs,
      pollIntervalMs: registration.pollIntervalMs,
    });

    const background = [
      this.#heartbeatLoop(agentId, tasks, registration.heartbeatIntervalMs),
      this.#outputLoop(tasks),
      this.#watchSpot(),
    ];
    const pulling = this.#pullLoop(agentId, tasks, registration.pollIntervalMs);
    await this.#stopRequested.promise;
    await pulling;
    try {
      if (!this.#fatal) await this.#drain(tasks, reporter);
      if (!this.#fatal) await this.#leave(agentId);
      if (this.#fatal) {
        await tasks.killAll('drop');
        throw this.#fatal;
      }
    } finally {
      this.#lifeAbort.abort(new Error('the agent stopped'));
      await Promise.all(background);
      process.off('exit', killTasksOnExit);
    }
    this.#log.info('stopped agent', { agentId, reason: this.#stopReason });
  }

  /** Ends the agent at once: the controller no longer accepts it, so nothing it runs can be reported. */
  #fail(err: Error): void {
    if (this.#fatal) return;
    this.#fatal = err;
    this.#log.error('stopping agent on a fatal error', { agentId: this.#agentId, error: err.message });
    this.#lifeAbort.abort(err);
    this.#stopAbort.abort(err);
    this.#stopRequested.resolve();
    void this.#tasks?.killAll('drop');
  }

  /** A failed call: 401, 403 and 404 mean this agent is revoked or terminated; anything else is retried later. */
  #callFailed(action: string, err: unknown): void {
    if (this.#lifeAbort.signal.aborted) return;
    const status = statusOf(err);
    if (status === 401 || status === 403 || status === 404) {
      this.#fail(
        new SpillwayError(`${action}: the controller no longer accepts agent ${this.#agentId}: ${errorMessage(err)}`),
      );
    } else {
      this.#log.warn(`failed ${action}`, { agentId: this.#agentId, status, error: errorMessage(err) });
    }
  }

  async #heartbeatLoop(agentId: string, tasks: TaskSupervisor, intervalMs: number): Promise<void> {
    const signal = this.#lifeAbort.signal;
    while (!signal.aborted) {
      const notice = this.#interruption === 'pending';
      try {
        // While it drains, every beat says so: the controller places nothing more here.
        const kind = notice ? 'interruption' : this.#stopAbort.signal.aborted ? 'draining' : undefined;
        const body: HeartbeatRequest = {
          runningTaskIds: tasks.heldTaskIds(),
          ...(this.#pulledThroughMs === undefined ? {} : { pulledThroughMs: this.#pulledThroughMs }),
          ...(kind ? { notice: kind } : {}),
        };
        const res = await this.#post<HeartbeatResponse>(agentId, 'heartbeat', body, signal);
        if (notice) {
          this.#interruption = 'delivered';
          this.#log.warn('told the controller of the spot interruption', { agentId, state: res.state });
        }
        for (const taskId of res.stopTaskIds) tasks.stop(taskId);
        if (res.state === 'terminated') {
          this.#fail(new SpillwayError(`heartbeating: the controller says agent ${agentId} is terminated`));
        }
      } catch (err) {
        this.#callFailed('heartbeating', err);
      }
      const wake = new AbortController();
      this.#wakeHeartbeat = () => wake.abort();
      // A notice that arrived during this beat goes out now; one that failed to go out waits for the next beat.
      if (notice || this.#interruption !== 'pending') {
        await systemClock.sleep(intervalMs, { signal: AbortSignal.any([signal, wake.signal]) }).catch(() => undefined);
      }
      this.#wakeHeartbeat = undefined;
    }
  }

  /**
   * On a spot instance whose metadata service is known, watches for EC2's interruption notice (GCE's preemption on a
   * `gcp-compute` instance); the next heartbeat, sent at once, carries it, and the controller drains this agent and
   * requeues its tasks.
   */
  async #watchSpot(): Promise<void> {
    const { metadataUrl, labels, spotPollIntervalMs } = this.#opts;
    if (metadataUrl === undefined || labels[LABEL_LIFECYCLE] !== 'spot') return;
    await interruptionWatcherFor(labels[LABEL_PROVIDER])({
      metadataUrl,
      logger: this.#log,
      signal: this.#lifeAbort.signal,
      pollIntervalMs: spotPollIntervalMs,
      onNotice: () => {
        this.#interruption = 'pending';
        this.#wakeHeartbeat?.();
      },
    });
  }

  async #pullLoop(agentId: string, tasks: TaskSupervisor, intervalMs: number): Promise<void> {
    while (!this.#stopping) {
      try {
        // Not aborted by stop: tasks in an answer already on its way are handed back, not lost.
        const res = await this.#post<PullResponse>(agentId, 'pull', {}, this.#lifeAbort.signal);
        for (const task of res.tasks) tasks.accept(task, this.#stopping);
        this.#pulledThroughMs = res.pulledAtMs;
      } catch (err) {
        this.#callFailed('pulling tasks', err);
      }
      await systemClock.sleep(intervalMs, { signal: this.#stopAbort.signal }).catch(() => undefined);
    }
  }

  async #outputLoop(tasks: TaskSupervisor): Promise<void> {
    const signal = this.#lifeAbort.signal;
    while (!signal.aborted) {
      await systemClock.sleep(this.#opts.outputReportIntervalMs, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      tasks.reportOutput();
    }
  }

  async #drain(supervisor: TaskSupervisor, reporter: TaskReporter): Promise<void> {
    await supervisor.drain(this.#opts.drainTimeoutMs);
    if (!(await reporter.idle(this.#opts.shutdownTimeoutMs))) {
      this.#log.warn('gave up delivering task reports', { taskIds: reporter.undelivered() });
    }
  }

  async #leave(agentId: string): Promise<void> {
    const body: LeaveRequest = { reason: truncate(this.#stopReason) };
    try {
      await retry(() => this.#post(agentId, 'leave', body, this.#lifeAbort.signal), {
        backoff: this.#opts.backoff,
        shouldRetry: isTransient,
        deadlineMs: Date.now() + this.#opts.shutdownTimeoutMs,
        signal: this.#lifeAbort.signal,
      });
      this.#log.info('left the pool', { agentId, reason: this.#stopReason });
    } catch (err) {
      const status = statusOf(err);
      if (status === 401 || status === 403 || status === 404) {
        this.#log.info('left the pool the controller had already removed this agent from', { agentId, status });
      } else {
        this.#log.warn('failed to leave the pool', { agentId, status, error: errorMessage(err) });
      }
    }
  }

  /** POSTs to one of this agent's own routes. */
  #post<T>(agentId: string, route: string, body: unknown, signal: AbortSignal): Promise<T> {
    return this.#client.post<T>(`/v1/agents/${encodeURIComponent(agentId)}/${route}`, body, { signal });
  }
}

/** Reasons travel in reports and leave requests, which the controller caps at 1,000 characters. */
function truncate(reason: string, maxLength = 1_000): string {
  return reason.length <= maxLength ? reason : `${reason.slice(0, maxLength - 3)}...`;
}
