import type { Agent, AgentState } from '../../core/agent.ts';
import type { Clock } from '../../core/clock.ts';
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { INTERRUPTION_REASON } from '../../core/interruption.ts';
import type { TaskHeader, TaskState } from '../../core/task.ts';
import type { AttestedInstance } from '../../providers/identity.ts';
import type { Logger } from '../../log/logger.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import {
  AGENT_REQUEST_TIMEOUT_MS,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type PullResponse,
  type RegisterRequest,
  type RegisterResponse,
  type ReportRequest,
} from '../../agent/protocol.ts';
import { Registrar, type RegistrarOptions, type RegistrationCaller, type RegistrationOrigin } from './registrar.ts';

export type { RegistrationCaller, RegistrationOrigin } from './registrar.ts';

export type AgentRegistryOptions = RegistrarOptions;

/**
 * The agent-facing side of the builtin pool: registration (by its Registrar), heartbeats, work pulls, task reports
 * and clean leaves. Every method is one store transaction (on the asynchronous port: it settles once that transaction
 * has committed or rolled back) and reads time from the injected clock. Callers (the API) have already checked that
 * an agent token acts for the agent it names; the registry checks what only it can (bootstrap credentials,
 * identities, intents, instance state).
 */
/**
 * A task handed over this many heartbeat intervals ago that the agent does not list is requeued, once the agent says
 * it has taken the answer that handed it over (`pulledThroughMs`), or once that answer is older than an agent waits
 * for one (AGENT_REQUEST_TIMEOUT_MS: it can never be taken). The intervals alone decide for an agent that does not
 * say. Hand-over times come from the clock of the controller that answered: the echo assumes the controllers' clocks
 * agree to well under a poll interval (NTP keeps them within milliseconds; the lease assumes as much); a larger skew
 * leaves the four intervals as the only guard, as before the echo.
 */
const UNACKNOWLEDGED_AFTER_BEATS = 4;

export class AgentRegistry {
  readonly #store: AsyncStore;
  readonly #clock: Clock;
  readonly #heartbeatIntervalMs: number;
  readonly #log: Logger;
  readonly #registrar: Registrar;

  constructor(opts: AgentRegistryOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#heartbeatIntervalMs = opts.heartbeatIntervalMs;
    this.#log = opts.logger;
    this.#registrar = new Registrar(opts);
  }

  /** See Registrar.registerAttested: the API's registration, identity verified, refusals audited and limited. */
  registerAttested(
    caller: RegistrationCaller,
    req: RegisterRequest,
    origin: RegistrationOrigin,
  ): Promise<RegisterResponse> {
    return this.#registrar.registerAttested(caller, req, origin);
  }

  /** See Registrar.register: `attested` is what a provider's identity verifier vouched for. */
  register(caller: RegistrationCaller, req: RegisterRequest, attested?: AttestedInstance): Promise<RegisterResponse> {
    return this.#registrar.register(caller, req, attested);
  }

  /**
   * Records a heartbeat and tells the agent which of its running tasks to stop: those not `running` on it any more
   * (cancelled, requeued, moved). With an interruption notice the agent is drained and its tasks return to pending,
   * in the same transaction, so they are placed elsewhere before the instance goes away.
   */
  heartbeat(agentId: string, req: HeartbeatRequest): Promise<HeartbeatResponse> {
    const nowMs = this.#clock.now();
    return this.#store.transaction(async () => {
      await this.#exists(agentId, 'recording a heartbeat');
      let agent = await this.#store.agents.heartbeat(agentId, nowMs);
      if (req.notice === 'draining' && agent.state === 'registered') {
        // It takes no new work; what was placed but not pulled goes elsewhere now rather than at its leave.
        agent = await this.#store.agents.setState(agentId, 'draining', 'the agent is shutting down', nowMs);
        for (const task of await this.#store.tasks.listHeaders({ agentId, states: ['placed'] })) {
          await this.#store.tasks.requeue(
            task.id,
            agentId,
            `returned to pending: agent ${agentId} is shutting down`,
            nowMs,
          );
        }
        this.#log.info('draining agent on its notice', { agentId });
      }
      if (req.notice === 'interruption') {
        if (agent.state === 'registered' || agent.state === 'provisioning') {
          agent = await this.#store.agents.setState(agentId, 'draining', INTERRUPTION_REASON, nowMs);
        }
        const requeued = await this.#store.tasks.requeueAgent(agentId, INTERRUPTION_REASON, nowMs);
        this.#log.warn('draining agent on interruption notice', { agentId, requeuedTasks: requeued });
      }
      const runningHere = await this.#store.tasks.listHeaders({ agentId, states: ['running'] });
      await this.#requeueUnacknowledged(agentId, runningHere, req, nowMs);
      const running = new Set(runningHere.map((task) => task.id));
      return { state: agent.state, stopTaskIds: req.runningTaskIds.filter((id) => !running.has(id)) };
    });
  }

  /**
   * A task the store has running on this agent that the agent does not report, although the agent has taken the pull
   * answer that handed it over (or a later one) and four heartbeat intervals have passed, never reached the agent (the
   * answer was lost) or was lost by it: it goes back to pending rather than stay running forever. A task handed over
   * after the agent's latest answer may be in one still on its way: it stays, until that answer is older than an
   * agent waits for one.
   */
  async #requeueUnacknowledged(
    agentId: string,
    runningHere: readonly TaskHeader[],
    beat: HeartbeatRequest,
    nowMs: number,
  ): Promise<void> {
    const reportedIds = new Set(beat.runningTaskIds);
    const afterBeats = nowMs - UNACKNOWLEDGED_AFTER_BEATS * this.#heartbeatIntervalMs;
    // Pulls failing since (timeouts, 5xx) leave the echo behind: an answer older than an agent waits is lost anyway.
    const taken =
      beat.pulledThroughMs === undefined
        ? nowMs
        : Math.max(beat.pulledThroughMs, afterBeats - AGENT_REQUEST_TIMEOUT_MS);
    const cutoff = Math.min(afterBeats, taken);
    for (const task of runningHere) {
      if (reportedIds.has(task.id) || (task.startedAtMs ?? nowMs) > cutoff) continue;
      await this.#store.tasks.requeue(task.id, agentId, `returned to pending: agent ${agentId} does not run it`, nowMs);
      this.#log.warn('requeued task the agent does not run', { agentId, taskId: task.id });
    }
  }

  /** Hands the agent its placed tasks (placed -> running), with the time of the hand-over the agent echoes. */
  pull(agentId: string): Promise<PullResponse> {
    const nowMs = this.#clock.now();
    return this.#store.transaction(async () => {
      await this.#exists(agentId, 'pulling tasks');
      const metadataTeams = new Set((await this.#store.policy.get()).metadataAccessTeams ?? []);
      const tasks = (await this.#store.tasks.claim(agentId, nowMs)).map((task) => ({
        id: task.id,
        command: task.command,
        resources: task.resources,
        ...(metadataTeams.has(task.owner.team) ? { metadataAccess: true } : {}),
      }));
      return { tasks, pulledAtMs: nowMs };
    });
  }

  /**
   * Records what the agent reports of one of its tasks: output, its exit, or its hand-back (the task returns to
   * pending). NotFoundError when the task is not this agent's.
   */
  report(agentId: string, taskId: string, req: ReportRequest): Promise<{ state: TaskState }> {
    const nowMs = this.#clock.now();
    return this.#store.transaction(async () => {
      const task = await this.#store.tasks.assignment(taskId);
      if (!task || task.agentId !== agentId) {
        throw new NotFoundError(`reporting on task ${taskId}: it is not a task of agent ${agentId}`);
      }
      switch (req.kind) {
        case 'output':
          await this.#store.tasks.recordOutput(taskId, agentId, req.outputTail);
          return { state: task.state };
        case 'exit':
          return { state: (await this.#store.tasks.finish(taskId, agentId, req, nowMs)).state };
        case 'handback': {
          const requeued = await this.#store.tasks.requeue(
            taskId,
            agentId,
            `handed back by agent ${agentId}: ${req.reason}`,
            nowMs,
          );
          this.#log.info('agent handed back task', { agentId, taskId });
          return { state: requeued.state };
        }
      }
    });
  }

  /**
   * A clean shutdown: the agent's tasks return to pending and its token is revoked. A private agent is terminated;
   * a cloud agent is set draining instead, so the controller's scale-down terminates its instance and billing stops.
   */
  leave(agentId: string, reason: string): Promise<{ state: AgentState }> {
    const nowMs = this.#clock.now();
    return this.#store.transaction(async () => {
      const agent = await this.#agent(agentId, 'leaving the pool');
      const requeued = await this.#store.tasks.requeueAgent(agentId, `agent ${agentId} left: ${reason}`, nowMs);
      const target: AgentState = agent.location.kind === 'cloud' ? 'draining' : 'terminated';
      // A terminated agent stays so; a lost cloud agent is already the controller's to terminate.
      const settled = (a: Agent): boolean =>
        a.state === target || a.state === 'terminated' || (a.state === 'lost' && target === 'draining');
      let after = agent;
      if (!settled(agent)) {
        try {
          // A savepoint: a refused change leaves the rest of the leave to commit.
          after = await this.#store.transaction(() =>
            this.#store.agents.setState(agentId, target, `left: ${reason}`, nowMs),
          );
        } catch (err) {
          // The leader (another controller, on PostgreSQL) settled the agent since the read above: decide again.
          const now = await this.#agent(agentId, 'leaving the pool');
          if (!(err instanceof ConflictError) || !settled(now)) throw err;
          after = now;
        }
      }
      await this.#store.tokens.revokeForAgent(agentId, nowMs);
      this.#log.info('agent left', { agentId, state: after.state, requeuedTasks: requeued });
      return { state: after.state };
    });
  }

  /** NotFoundError for an unknown agent; reads its state alone (every heartbeat and pull of every agent asks). */
  async #exists(agentId: string, doing: string): Promise<void> {
    const state = await this.#store.agents.state(agentId);
    if (state === undefined) throw new NotFoundError(`${doing}: no agent ${agentId}`);
  }

  async #agent(agentId: string, doing: string): Promise<Agent> {
    const agent = await this.#store.agents.get(agentId);
    if (!agent) throw new NotFoundError(`${doing}: no agent ${agentId}`);
    return agent;
  }
}
