import type { Agent, AgentState } from '../../core/agent.ts';
import type { Clock } from '../../core/clock.ts';
import { hashToken, newApiToken, verifyBootstrapCredential } from '../../core/credentials.ts';
import { AccessError, ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { LaunchIntent } from '../../core/intent.ts';
import { INTERRUPTION_REASON } from '../../core/interruption.ts';
import { formatLocation } from '../../core/location.ts';
import type { Task, TaskState } from '../../core/task.ts';
import type { Logger } from '../../log/logger.ts';
import type { Store, TokenRecord } from '../../store/store.ts';
import {
  PROTOCOL_VERSION,
  type AssignedTask,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RegisterRequest,
  type RegisterResponse,
  type ReportRequest,
} from '../../agent/protocol.ts';

/** Who is registering: an unbound `agent` token (a private agent) or a cloud instance's bootstrap credential. */
export type RegistrationCaller =
  { readonly kind: 'token'; readonly token: TokenRecord } | { readonly kind: 'bootstrap'; readonly credential: string };

export interface AgentRegistryOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** How often agents are told to heartbeat. */
  readonly heartbeatIntervalMs: number;
  /** How often agents are told to pull for work. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
}


/**
 * The agent-facing side of the builtin pool: registration, heartbeats, work pulls, task reports and clean leaves.
 * Every method is one store transaction and reads time from the injected clock. Callers (the API) have already
 * checked that an agent token acts for the agent it names; the registry checks what only it can (bootstrap
 * credentials, intents, instance state).
 */
export class AgentRegistry {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #heartbeatIntervalMs: number;
  readonly #pollIntervalMs: number;
  readonly #log: Logger;

  constructor(opts: AgentRegistryOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#heartbeatIntervalMs = opts.heartbeatIntervalMs;
    this.#pollIntervalMs = opts.pollIntervalMs;
    this.#log = opts.logger;
  }

  /**
   * Registers an agent and issues its own token (role `agent`, bound to the agent id; only its hash is stored).
   * - With an unbound agent token: inserts a registered private agent at `req.site` (default `default`).
   * - With a bootstrap credential: the credential names a launch intent (bad MAC or no such intent: AccessError
   *   401); `req.instanceId` is required (ValidationError) and must be an instance that intent launched and that has
   *   not registered yet (ConflictError otherwise: reconcile may not have adopted it yet, so the agent retries),
   *   within the policy's `maxProvisionMs` of the launch's confirmation (AccessError 401 after: the same deadline
   *   after which scale-down terminates the instance).
   * A protocol version other than ours is a ValidationError on `protocolVersion`. Nothing changes on failure.
   */
  register(caller: RegistrationCaller, req: RegisterRequest): RegisterResponse {
    if (req.protocolVersion !== PROTOCOL_VERSION) {
      throw new ValidationError(
        'protocolVersion',
        `expected protocol version ${PROTOCOL_VERSION} (this controller), got ${req.protocolVersion} (the agent)`,
      );
    }
    const nowMs = this.#clock.now();
    return this.#store.transaction(() => {
      const agent =
        caller.kind === 'token'
          ? this.#registerPrivate(caller.token, req, nowMs)
          : this.#registerCloud(caller.credential, req, nowMs);
      this.#store.agents.setIsolation(agent.id, req.isolation ?? 'none');
      const token = newApiToken();
      this.#store.tokens.create(
        { id: newId('tok'), role: 'agent', name: `agent:${agent.id}`, agentId: agent.id, createdAtMs: nowMs },
        hashToken(token),
      );
      this.#log.info('registered agent', {
        agentId: agent.id,
        name: agent.name,
        location: formatLocation(agent.location),
        via: caller.kind,
        isolation: req.isolation ?? 'none',
      });
      return {
        protocolVersion: PROTOCOL_VERSION,
        agentId: agent.id,
        token,
        heartbeatIntervalMs: this.#heartbeatIntervalMs,
        pollIntervalMs: this.#pollIntervalMs,
      };
    });
  }

  #registerPrivate(token: TokenRecord, req: RegisterRequest, nowMs: number): Agent {
    if (token.role !== 'agent' || token.agentId !== null) {
      throw new AccessError(
        403,
        'registering: only an agent registration token or a bootstrap credential may register',
      );
    }
    return this.#store.agents.insert(
      {
        name: req.name,
        location: { kind: 'private', site: req.site ?? 'default' },
        capacity: req.capacity,
        labels: req.labels,
        lifecycle: 'private',
        pricePerHourMicros: 0,
        state: 'registered',
        instanceId: null,
        providerId: null,
        intentId: null,
      },
      nowMs,
    );
  }

  #registerCloud(credential: string, req: RegisterRequest, nowMs: number): Agent {
    const intent = this.#bootstrapIntent(credential);
    const instanceId = req.instanceId;
    if (instanceId === undefined) throw new ValidationError('instanceId', 'required with a bootstrap credential');
    const agent = this.#store.agents.byInstance(intent.providerId, instanceId);
    if (!agent || agent.intentId !== intent.id) {
      throw new ConflictError(`registering: instance ${instanceId} was not launched by intent ${intent.id}`);
    }
    if (agent.state !== 'provisioning')
      throw new ConflictError(`registering: instance ${instanceId} is already registered or being terminated`);
    // The same start as scale-down's maxProvisionMs: when the launch was confirmed.
    if (nowMs - agent.registeredAtMs > this.#store.policy.get().maxProvisionMs) {
      throw new AccessError(401, 'registering: the bootstrap credential expired');
    }
    return this.#store.agents.register(agent.id, { capacity: req.capacity, labels: req.labels }, nowMs);
  }

  #bootstrapIntent(credential: string): LaunchIntent {
    const intentId = verifyBootstrapCredential(this.#store.meta.serverSecret(), credential);
    if (intentId === undefined) throw new AccessError(401, 'registering: the bootstrap credential is not valid');
    const intent = this.#store.intents.get(intentId);
    if (intent?.kind !== 'launch')
      throw new AccessError(401, 'registering: the bootstrap credential names no launch intent');
    return intent;
  }

  /**
   * Records a heartbeat and tells the agent which of its running tasks to stop: those not `running` on it any more
   * (cancelled, requeued, moved). With an interruption notice the agent is drained and its tasks return to pending,
   * in the same transaction, so they are placed elsewhere before the instance goes away.
   */
  heartbeat(agentId: string, req: HeartbeatRequest): HeartbeatResponse {
    const nowMs = this.#clock.now();
    return this.#store.transaction(() => {
      this.#agent(agentId, 'recording a heartbeat');
      let agent = this.#store.agents.heartbeat(agentId, nowMs);
      if (req.notice === 'draining' && agent.state === 'registered') {
        // It takes no new work; what was placed but not pulled goes elsewhere now rather than at its leave.
        agent = this.#store.agents.setState(agentId, 'draining', 'the agent is shutting down', nowMs);
        for (const task of this.#store.tasks.list({ agentId, states: ['placed'] })) {
          this.#store.tasks.requeue(task.id, agentId, `returned to pending: agent ${agentId} is shutting down`, nowMs);
        }
        this.#log.info('draining agent on its notice', { agentId });
      }
      if (req.notice === 'interruption') {
        if (agent.state === 'registered' || agent.state === 'provisioning') {
          agent = this.#store.agents.setState(agentId, 'draining', INTERRUPTION_REASON, nowMs);
        }
        const requeued = this.#store.tasks.requeueAgent(agentId, INTERRUPTION_REASON, nowMs);
        this.#log.warn('draining agent on interruption notice', { agentId, requeuedTasks: requeued });
      }
      const runningHere = this.#store.tasks.list({ agentId, states: ['running'] });
      this.#requeueUnacknowledged(agentId, runningHere, req.runningTaskIds, nowMs);
      const running = new Set(runningHere.map((task) => task.id));
      return { state: agent.state, stopTaskIds: req.runningTaskIds.filter((id) => !running.has(id)) };
    });
  }

  /**
   * A task the store has running on this agent that the agent does not report, well after it was handed over, never
   * reached the agent (the pull's answer was lost) or was lost by it: it goes back to pending rather than stay
   * running forever. Two heartbeat intervals cover a heartbeat sent before the pull's answer arrived.
   */
  #requeueUnacknowledged(agentId: string, runningHere: readonly Task[], reported: readonly string[], nowMs: number): void {
    const reportedIds = new Set(reported);
    const cutoff = nowMs - 2 * this.#heartbeatIntervalMs;
    for (const task of runningHere) {
      if (reportedIds.has(task.id) || (task.startedAtMs ?? nowMs) > cutoff) continue;
      this.#store.tasks.requeue(task.id, agentId, `returned to pending: agent ${agentId} does not run it`, nowMs);
      this.#log.warn('requeued task the agent does not run', { agentId, taskId: task.id });
    }
  }

  /** Hands the agent its placed tasks (placed -> running). */
  pull(agentId: string): AssignedTask[] {
    const nowMs = this.#clock.now();
    return this.#store.transaction(() => {
      this.#agent(agentId, 'pulling tasks');
      const metadataTeams = new Set(this.#store.policy.get().metadataAccessTeams ?? []);
      return this.#store.tasks.claim(agentId, nowMs).map((task) => ({
        id: task.id,
        command: task.command,
        resources: task.resources,
        ...(metadataTeams.has(task.owner.team) ? { metadataAccess: true } : {}),
      }));
    });
  }

  /**
   * Records what the agent reports of one of its tasks: output, its exit, or its hand-back (the task returns to
   * pending). NotFoundError when the task is not this agent's.
   */
  report(agentId: string, taskId: string, req: ReportRequest): { state: TaskState } {
    const nowMs = this.#clock.now();
    return this.#store.transaction(() => {
      const task = this.#store.tasks.get(taskId);
      if (!task || task.agentId !== agentId) {
        throw new NotFoundError(`reporting on task ${taskId}: it is not a task of agent ${agentId}`);
      }
      switch (req.kind) {
        case 'output':
          this.#store.tasks.recordOutput(taskId, agentId, req.outputTail);
          return { state: task.state };
        case 'exit':
          return { state: this.#store.tasks.finish(taskId, agentId, req, nowMs).state };
        case 'handback': {
          const requeued = this.#store.tasks.requeue(
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
  leave(agentId: string, reason: string): { state: AgentState } {
    const nowMs = this.#clock.now();
    return this.#store.transaction(() => {
      const agent = this.#agent(agentId, 'leaving the pool');
      const requeued = this.#store.tasks.requeueAgent(agentId, `agent ${agentId} left: ${reason}`, nowMs);
      const target: AgentState = agent.location.kind === 'cloud' ? 'draining' : 'terminated';
      // A terminated agent stays so; a lost cloud agent is already the controller's to terminate.
      const settled =
        agent.state === target || agent.state === 'terminated' || (agent.state === 'lost' && target === 'draining');
      const after = settled ? agent : this.#store.agents.setState(agentId, target, `left: ${reason}`, nowMs);
      this.#store.tokens.revokeForAgent(agentId, nowMs);
      this.#log.info('agent left', { agentId, state: after.state, requeuedTasks: requeued });
      return { state: after.state };
    });
  }

  #agent(agentId: string, doing: string): Agent {
    const agent = this.#store.agents.get(agentId);
    if (!agent) throw new NotFoundError(`${doing}: no agent ${agentId}`);
    return agent;
  }
}
