import type { Agent, AgentState, Lifecycle } from '../core/agent.ts';
import type { Intent, LaunchIntent, TerminateIntent } from '../core/intent.ts';
import type { Location } from '../core/location.ts';
import type { Owner } from '../core/owner.ts';
import type { Policy } from '../core/policy.ts';
import type { Resources } from '../core/resources.ts';
import type { Task, TaskConstraints, TaskState } from '../core/task.ts';

/**
 * The store port. Every method is one transaction unless it runs inside `transaction`, whose callback is one
 * transaction as a whole (nested calls join the outer one). Methods are synchronous: the embedded store is SQLite.
 * A method that finds its precondition false throws NotFoundError or ConflictError and changes nothing.
 */
export interface Store {
  transaction<T>(fn: () => T): T;
  readonly meta: MetaRepo;
  readonly tasks: TaskRepo;
  readonly agents: AgentRepo;
  readonly intents: IntentRepo;
  readonly tokens: TokenRepo;
  readonly policy: PolicyRepo;
  readonly audit: AuditRepo;
  readonly lease: LeaseRepo;
  close(): void;
}

export interface MetaRepo {
  /** Fixes the cluster id on first start; throws ConflictError when the store already holds another one. */
  bindClusterId(clusterId: string): void;
  clusterId(): string;
  /** 32 random bytes created on first use; bootstrap credentials are derived from it. */
  serverSecret(): Buffer;
}

export interface NewTask {
  readonly owner: Owner;
  readonly resources: Resources;
  readonly priority: number;
  readonly revocable: boolean;
  readonly constraints: TaskConstraints;
  readonly command: readonly string[];
}

export interface TaskFilter {
  readonly states?: readonly TaskState[];
  readonly agentId?: string;
  readonly team?: string;
  readonly project?: string;
  readonly limit?: number;
}

export interface TaskRepo {
  /** Inserts tasks as `pending`, all or none. */
  insert(tasks: readonly NewTask[], nowMs: number): Task[];
  get(id: string): Task | undefined;
  /** Newest first. */
  list(filter?: TaskFilter): Task[];
  countByState(): Record<TaskState, number>;
  /** Pending tasks, highest priority first, then longest waiting. */
  pending(): Task[];
  /** pending -> placed on a `registered` agent; clears the agent's idle mark. ConflictError when either moved on. */
  place(taskId: string, agentId: string, nowMs: number): void;
  /** The agent takes its placed tasks: placed -> running. Returns them. */
  claim(agentId: string, nowMs: number): Task[];
  /** Records the output tail of a running task of this agent. */
  recordOutput(taskId: string, agentId: string, outputTail: string): void;
  /**
   * placed|running on this agent -> succeeded (exit 0) or failed. Marks the agent idle when it has no task left.
   * A task already finished or moved elsewhere (cancelled, requeued) is left as it is and returned unchanged.
   */
  finish(taskId: string, agentId: string, result: { exitCode: number; outputTail: string }, nowMs: number): Task;
  /** pending|placed|running -> cancelled. ConflictError for a finished task. */
  cancel(taskId: string, reason: string, nowMs: number): Task;
  /** One task of this agent back to pending (the agent handed it back), attempts + 1. */
  requeue(taskId: string, agentId: string, reason: string, nowMs: number): Task;
  /** Every placed or running task of the agent back to pending, attempts + 1. Returns how many. */
  requeueAgent(agentId: string, reason: string, nowMs: number): number;
}

export interface NewAgent {
  readonly name: string;
  readonly location: Location;
  readonly capacity: Resources;
  readonly labels: Readonly<Record<string, string>>;
  readonly lifecycle: Lifecycle;
  readonly pricePerHourMicros: number;
  readonly state: AgentState;
  readonly instanceId: string | null;
  readonly providerId: string | null;
  readonly intentId: string | null;
}

export interface AgentFilter {
  readonly states?: readonly AgentState[];
}

export interface AgentRepo {
  /** Inserts an agent; ConflictError when an agent for the same provider instance exists. */
  insert(agent: NewAgent, nowMs: number): Agent;
  get(id: string): Agent | undefined;
  /** With `allocated` computed from the agent's placed and running tasks. */
  list(filter?: AgentFilter): Agent[];
  byInstance(providerId: string, instanceId: string): Agent | undefined;
  /**
   * provisioning -> registered for a cloud agent, with the capacity and labels it reports. ConflictError when it is
   * not provisioning (an instance registers once).
   */
  register(id: string, update: { capacity: Resources; labels: Readonly<Record<string, string>> }, nowMs: number): Agent;
  heartbeat(id: string, nowMs: number): Agent;
  /** Moves an agent to a state with a reason; `terminated` and `lost` are final except lost -> terminated. */
  setState(id: string, state: AgentState, reason: string, nowMs: number): Agent;
}

export interface IntentRepo {
  insert(intent: Intent): void;
  get(id: string): Intent | undefined;
  /** Intents whose cloud call is not confirmed yet, oldest first. */
  open(): Intent[];
  /** Launch intents created at or after `sinceMs` (every state). */
  launches(sinceMs: number): LaunchIntent[];
  recordAttempt(id: string, error: string, nowMs: number): void;
  /**
   * Confirms a launch: state done, the instance ids, and one `provisioning` agent per new instance, in one
   * transaction. Instance ids already known are kept (reconcile may adopt them first).
   */
  completeLaunch(id: string, instanceIds: readonly string[], nowMs: number): void;
  /** Adds instances that reconcile found tagged with this intent (same agents as completeLaunch). */
  adoptInstances(id: string, instanceIds: readonly string[], nowMs: number): void;
  /** Confirms a terminate: state done, and each agent of those instances `terminated`. */
  completeTerminate(intent: TerminateIntent, nowMs: number): void;
  fail(id: string, error: string, nowMs: number): void;
}

export const Role = { admin: 'admin', submitter: 'submitter', finance: 'finance', agent: 'agent' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface TokenRecord {
  readonly id: string;
  readonly role: Role;
  readonly name: string;
  /** For agent tokens issued at registration: the one agent they act for. */
  readonly agentId: string | null;
  readonly createdAtMs: number;
  readonly revokedAtMs: number | null;
}

export interface TokenRepo {
  /** Stores the SHA-256 of a token, never the token. */
  create(record: Omit<TokenRecord, 'revokedAtMs'>, tokenHash: string): TokenRecord;
  byHash(tokenHash: string): TokenRecord | undefined;
  get(id: string): TokenRecord | undefined;
  list(): TokenRecord[];
  /** NotFoundError for an unknown id; revoking twice is not an error. */
  revoke(id: string, nowMs: number): TokenRecord;
  /** Revokes every token of an agent (it was terminated or lost). */
  revokeForAgent(agentId: string, nowMs: number): void;
}

export interface PolicyRepo {
  get(): Policy;
  /** Replaces the policy and appends an audit entry with the actor, in one transaction. */
  set(policy: Policy, actor: string, nowMs: number): void;
  /** Writes the policy only when none is stored (first start). Returns whether it wrote. */
  seed(policy: Policy, nowMs: number): boolean;
}

export interface AuditEntry {
  readonly id: number;
  readonly atMs: number;
  readonly actor: string;
  readonly action: string;
  readonly detail: unknown;
}

export interface AuditRepo {
  append(entry: Omit<AuditEntry, 'id'>): void;
  /** Newest first. */
  list(limit?: number): AuditEntry[];
}

export interface LeaseRepo {
  /**
   * Takes or renews the lease `name` for `holder` until `nowMs + ttlMs`. Succeeds when the lease is free, expired or
   * already this holder's; returns false otherwise.
   */
  acquire(name: string, holder: string, nowMs: number, ttlMs: number): boolean;
  /** Gives the lease up if `holder` has it. */
  release(name: string, holder: string): void;
  holder(name: string, nowMs: number): string | undefined;
}
