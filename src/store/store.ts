import type { Agent, AgentIsolation, AgentState, Lifecycle } from '../core/agent.ts';
import type { Intent, LaunchIntent, TerminateIntent } from '../core/intent.ts';
import type { Location } from '../core/location.ts';
import type { Owner } from '../core/owner.ts';
import type { Policy } from '../core/policy.ts';
import type { Resources } from '../core/resources.ts';
import type { Task, TaskConstraints, TaskHeader, TaskState } from '../core/task.ts';
import type { TeamScope } from '../core/team-scope.ts';
import type { BudgetAlert, NewBudgetAlert } from '../cost-model/budget-alerts.ts';
import type { MeasuredRun } from '../cost-model/measured-use.ts';
import type { Budget, BudgetSpec } from '../cost-model/budget.ts';
import type { AgentInterval, LedgerSlice, MeasuredUse, UsageInterval } from '../cost-model/ledger.ts';

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
  readonly ledger: LedgerRepo;
  readonly budgets: BudgetRepo;
  readonly registrations: RegistrationRepo;
  readonly console: ConsoleRepo;
  readonly changes: ChangeRepo;
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
  /** Only tasks of these teams (and projects): a scoped token's listing, filtered in the query itself. */
  readonly scope?: TeamScope;
  /** Only tasks after this position in the listing's order (newest first): a page's `next`, from `page`. */
  readonly after?: TaskCursor;
}

/** A position in the task listing's order (newest first). Opaque to clients: the API encodes it. */
export interface TaskCursor {
  readonly createdAtMs: number;
  readonly seq: number;
}

/** A task's state and the agent it is placed on or runs on (null when none). */
export interface TaskAssignment {
  readonly state: TaskState;
  readonly agentId: string | null;
}

export interface TaskRepo {
  /** Inserts tasks as `pending`, all or none. */
  insert(tasks: readonly NewTask[], nowMs: number): Task[];
  /** With a scope, a task outside it is undefined, as if it did not exist. */
  get(id: string, scope?: TeamScope): Task | undefined;
  /** Where a task is, from two columns (no command or output read): undefined when there is no such task. */
  assignment(id: string): TaskAssignment | undefined;
  /** Newest first. */
  list(filter?: TaskFilter): Task[];
  /**
   * One page of `list`: at most `filter.limit` tasks (required here) and the cursor of the last one when more may
   * follow. Pass it back as `filter.after` for the next page.
   */
  page(filter: TaskFilter & { readonly limit: number }): { tasks: Task[]; next: TaskCursor | null };
  countByState(): Record<TaskState, number>;
  /**
   * How many of a team's tasks are pending (the pending quota's count). Called inside a transaction, a check of the
   * quota followed by `insert` is safe against another controller doing the same at once: the second waits for the
   * first's transaction (SQLite: its single writer; PostgreSQL: a lock on the team's quota). Check several teams in
   * one order (sorted), so two submissions never wait for each other.
   */
  countPending(team: string): number;
  /** Pending tasks, highest priority first, then longest waiting; headers only (the control loop reads these). */
  pending(): TaskHeader[];
  /** `list` without the payload: no command, no output. For the control loop. */
  listHeaders(filter?: TaskFilter): TaskHeader[];
  /** pending -> placed on a `registered` agent; clears the agent's idle mark. ConflictError when either moved on. */
  place(taskId: string, agentId: string, nowMs: number): void;
  /** The agent takes its placed tasks: placed -> running. Returns them. */
  claim(agentId: string, nowMs: number): Task[];
  /** Records the output tail of a running task of this agent. */
  recordOutput(taskId: string, agentId: string, outputTail: string): void;
  /**
   * Sets why pending tasks wait (the planner's reasons), one transaction for all. Tasks no longer pending are left
   * as they are. Returns the ids whose reason changed, so the caller logs each change once.
   */
  noteWaiting(reasons: readonly { readonly taskId: string; readonly reason: string }[]): string[];
  /**
   * placed|running on this agent -> succeeded (exit 0) or failed. Marks the agent idle when it has no task left.
   * A task already finished or moved elsewhere (cancelled, requeued) is left as it is and returned unchanged.
   */
  finish(taskId: string, agentId: string, result: TaskResult, nowMs: number): Task;
  /** pending|placed|running -> cancelled. ConflictError for a finished task. */
  cancel(taskId: string, reason: string, nowMs: number): Task;
  /** One task of this agent back to pending (the agent handed it back), attempts + 1. */
  requeue(taskId: string, agentId: string, reason: string, nowMs: number): Task;
  /** Every placed or running task of the agent back to pending, attempts + 1. Returns how many. */
  requeueAgent(agentId: string, reason: string, nowMs: number): number;
}

/** What an agent reports at a task's exit. */
export interface TaskResult {
  readonly exitCode: number;
  readonly outputTail: string;
  /** Why it failed beyond its exit code (`out of memory: exceeded its 256Mi limit`); it leads the task's reason. */
  readonly reason?: string;
  readonly usage?: MeasuredUse;
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
  /** The agent's state alone, undefined when there is no such agent: a check that reads one column, no allocation. */
  state(id: string): AgentState | undefined;
  /** Records how the agent isolates its tasks, as it registered. */
  setIsolation(id: string, isolation: AgentIsolation): void;
  /** With `allocated` computed from the agent's placed and running tasks. */
  list(filter?: AgentFilter): Agent[];
  /**
   * One page of `list`, in record order: at most `limit` agents after position `after` (0 for the first page), and the
   * position to pass for the next page, or null at the end.
   */
  page(filter: AgentFilter & { readonly limit: number; readonly after?: number }): {
    agents: Agent[];
    next: number | null;
  };
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
  /**
   * Keeps `bootScript` as the launch intent's boot script unless it already has one; returns the one it keeps (the
   * first rendered wins, so every retry sends the same bytes).
   */
  fixBootScript(id: string, bootScript: string, nowMs: number): string;
  /** Adds instances that reconcile found tagged with this intent (same agents as completeLaunch). */
  adoptInstances(id: string, instanceIds: readonly string[], nowMs: number): void;
  /** Confirms a terminate: state done, and each agent of those instances `terminated`. */
  completeTerminate(intent: TerminateIntent, nowMs: number): void;
  fail(id: string, error: string, nowMs: number): void;
  /**
   * One page of launch and terminate intents, newest first: at most `limit` of them, after the position `after` (the
   * previous page's `next`) when given, and the position of the last one when more may follow.
   */
  recent(limit: number, after?: IntentCursor): { intents: Intent[]; next: IntentCursor | null };
}

/** A position in the newest-first listing of intents. Opaque to clients: the API encodes it. */
export interface IntentCursor {
  readonly createdAtMs: number;
  readonly seq: number;
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
  /** Submitter and finance tokens only: the teams (and projects) the token acts for; absent means every team. */
  readonly scope?: TeamScope;
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

/** Limits of a private-agent registration token; null: no limit of that kind. */
export interface RegistrationBounds {
  /** How many agents the token may register in all. */
  readonly maxAgents: number | null;
  /** The only site its agents may register at. */
  readonly site: string | null;
  /** After this, the token registers no agent (agents it registered keep their own tokens). */
  readonly expiresAtMs: number | null;
}

/** What attested and bounded registration remembers (DESIGN section 8). */
export interface RegistrationRepo {
  /** Sets (or replaces) a registration token's bounds. */
  setBounds(tokenId: string, bounds: RegistrationBounds): void;
  /** Undefined for an unbounded token. */
  bounds(tokenId: string): RegistrationBounds | undefined;
  /** Records that a registration token registered an agent. */
  record(registrationTokenId: string, agentId: string, nowMs: number): void;
  /**
   * How many agents a registration token has registered. Called inside a transaction, a check of the token's limit
   * followed by `record` is safe against another controller doing the same at once: the second waits for the first's
   * transaction (SQLite: its single writer; PostgreSQL: a lock on the token's row).
   */
  count(registrationTokenId: string): number;
  /**
   * Marks a single-use identity token (by its SHA-256) used until it expires. Returns false, changing nothing, when
   * it was used before. Forgets tokens that expired before `nowMs`.
   */
  useOnce(tokenHash: string, expiresAtMs: number, nowMs: number): boolean;
}

export interface PolicyRepo {
  /**
   * Called inside a transaction, a read followed by `set` is safe against another controller doing the same at once:
   * neither change is lost (SQLite: its single writer; PostgreSQL: the read holds the policy's lock shared, so when two
   * transactions both read before either sets, one is refused with a retryable error and changes nothing).
   */
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
  /** Newest first; with `beforeId`, only entries older than that one (the next page). */
  list(limit?: number, beforeId?: number): AuditEntry[];
}

export interface LeaseRepo {
  /**
   * Takes or renews the lease `name` for `holder` until `nowMs + ttlMs`. Succeeds when the lease is free, expired or
   * already this holder's; returns false otherwise.
   */
  acquire(name: string, holder: string, nowMs: number, ttlMs: number): boolean;
  /** Gives the lease up if `holder` has it. Its epoch stays: the next holder's is higher. */
  release(name: string, holder: string): void;
  holder(name: string, nowMs: number): string | undefined;
  /**
   * The lease's epoch when `holder` holds it unexpired, else undefined. The epoch grows by one on every takeover
   * (a new holder, or the same one after it expired or released) and never on a renewal, so it names one tenure.
   */
  epoch(name: string, holder: string, nowMs: number): number | undefined;
  /**
   * The fence (see src/store/fenced-store.ts). Inside a transaction only: throws FencedError, and the transaction
   * rolls back, unless `epoch` is the lease's current epoch, held and unexpired; no takeover can commit until the
   * transaction ends. Outside a transaction it throws a SpillwayError.
   */
  check(name: string, epoch: number, nowMs: number): void;
}

/**
 * The cost ledger (src/cost-model/ledger.ts). The store records it inside the transitions that change what it
 * describes, so it can never disagree with the pool: `agents.insert` opens an agent's interval (a cloud agent's when
 * its launch is confirmed or its instance adopted, a private agent's when it registers), `agents.register` records
 * the capacity the agent reports, `agents.setState` closes it (a cloud agent when terminated, its instance gone; a
 * private agent when terminated or lost); `tasks.claim` opens a task's usage interval and `tasks.finish`, `cancel`,
 * `requeue` and `requeueAgent` close it. The methods below are for pools that keep their own queue. Every one is
 * idempotent: opening what is open, or closing what is closed, changes nothing.
 */
export interface LedgerRepo {
  openAgentInterval(interval: Omit<AgentInterval, 'endMs'>): void;
  /** Closes at `endMs`, or at the interval's start when that is later. */
  closeAgentInterval(agentId: string, endMs: number): void;
  /** At most one run of a task is open at once. */
  openUsageInterval(usage: Omit<UsageInterval, 'id' | 'endMs'>): void;
  /** `measured`: what the run used, when its agent measured it (an exit report from an isolated agent). */
  closeUsageInterval(taskId: string, endMs: number, measured?: MeasuredUse): void;
  /**
   * Every agent and usage interval that overlaps [fromMs, toMs) or is still open, oldest first. With
   * `{ agentsOnly: true }` the caller needs only the agent intervals, and `usage` may come back empty (a ledger holds
   * many runs per agent, so reading them for nothing is most of the cost).
   */
  overlapping(fromMs: number, toMs: number, options?: { readonly agentsOnly?: boolean }): LedgerSlice;
  agentInterval(agentId: string): AgentInterval | undefined;
  /** The task's runs, oldest first. */
  usageOf(taskId: string): UsageInterval[];
  /** Every run overlapping [fromMs, toMs) or still open, with what its task asked for and what it used. */
  measuredRuns(fromMs: number, toMs: number): MeasuredRun[];
}

/** Finance's budgets and the alerts they raised. Changes are audited with the actor. */
export interface BudgetRepo {
  /** By name. */
  list(): Budget[];
  /**
   * By id (`bud-…`) or by name. Called inside a transaction, a check made on what it read followed by `set` or
   * `delete` is safe against another controller changing the budgets at once: the other waits for this transaction
   * (SQLite: its single writer; PostgreSQL: the budgets' lock).
   */
  get(idOrName: string): Budget | undefined;
  /**
   * Creates the budget named `spec.name`, or replaces the one of that name (keeping its id and creation time), and
   * audits `budget.set` with before and after, in one transaction.
   */
  set(spec: BudgetSpec, actor: string, nowMs: number): { budget: Budget; created: boolean };
  /** Deletes by id or name and audits `budget.delete`; NotFoundError when there is none. Its alerts are kept. */
  delete(idOrName: string, actor: string, nowMs: number): Budget;
  /**
   * Writes the config's budgets on the store's first start only (later starts change nothing, so budgets deleted
   * through the API stay deleted). Not audited, like the policy's seed. Returns how many it wrote.
   */
  seed(specs: readonly BudgetSpec[], nowMs: number): number;
  /** Keeps the first alert of each budget, period and percent; returns whether this one was new. */
  recordAlert(alert: NewBudgetAlert): boolean;
  /** Newest first; every alert when `limit` is left out; with `beforeId`, only alerts older than that one. */
  alerts(limit?: number, beforeId?: number): BudgetAlert[];
}

/** A web console session: it acts as the token that started it, while that token is not revoked. */
export interface ConsoleSession {
  readonly tokenId: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

/**
 * The web console's sign-in codes and sessions, each kept by the SHA-256 of its secret. Expired codes and sessions
 * are deleted when new ones are added.
 */
export interface ConsoleRepo {
  /** Records a sign-in code made by a token, usable once until `expiresAtMs`. */
  addCode(codeHash: string, tokenId: string, nowMs: number, expiresAtMs: number): void;
  /**
   * Uses a code: returns the token id it was made by and marks it used, or undefined (changing nothing) when the code
   * is unknown, used before or expired at `nowMs`.
   */
  useCode(codeHash: string, nowMs: number): string | undefined;
  openSession(sessionHash: string, session: ConsoleSession): void;
  /** The session, or undefined when there is none or it expired at `nowMs`. */
  session(sessionHash: string, nowMs: number): ConsoleSession | undefined;
  /** Ends a session; ending one that does not exist is not an error. */
  closeSession(sessionHash: string): void;
}

/** A row with its place in record order (the order agents are listed in, and pending tasks' last tie-break). */
export interface Recorded<T> {
  readonly seq: number;
  readonly row: T;
}

/** An agent as recorded, without `allocated` (which is summed from its tasks). */
export type AgentRecord = Omit<Agent, 'allocated'>;

/** Rows for the controller's in-memory model (src/model/), as of one read snapshot at revision `rev`. */
export interface ModelRows {
  readonly rev: number;
  readonly agents: readonly Recorded<AgentRecord>[];
  readonly tasks: readonly Recorded<TaskHeader>[];
  readonly intents: readonly Recorded<Intent>[];
}

/**
 * What the in-memory model reads: revisions stamped on every task, agent and intent row in the transaction that
 * wrote it, by whichever process wrote it (schema version 9). Each method reads one snapshot.
 */
export interface ChangeRepo {
  /** The store's revision now: the highest stamped on any row. */
  revision(): number;
  /** What the model holds now: agents not terminated, tasks pending, placed or running (headers), open intents. */
  current(): ModelRows;
  /**
   * The part of `current` recorded at positions (afterSeq, afterSeq + span] of each table, so a large load can be read
   * in slices, each its own snapshot; `more` while some table has rows past the slice. Slices read at different
   * times mix revisions: the reader then applies `since` from the revision read before the first slice, which
   * brings every row that changed meanwhile to its newest state (the Kubernetes list-then-watch).
   */
  currentSlice(afterSeq: number, span: number): ModelRows & { readonly more: boolean };
  /**
   * Every task, agent and intent row written after revision `rev`, whatever its state now (a terminated agent, a
   * finished task, a done intent: the reader drops them). `rev` of the answer is the revision read up to, to pass
   * next; with `limit` (rows per table), `more` tells that rows remain above it. Applying a row twice is harmless.
   */
  since(rev: number, limit?: number): ModelRows & { readonly more: boolean };
  /** `ledger.overlapping(fromMs, toMs)` and the revision it is as of, in one snapshot. */
  ledgerOverlapping(fromMs: number, toMs: number): LedgerRows;
  /** Every ledger interval written after revision `rev`, whatever its times; `rev` of the answer is the store's. */
  ledgerSince(rev: number): LedgerRows;
}

/** Ledger intervals as of revision `rev`; an agent interval's `seq` is its place in record order. */
export interface LedgerRows {
  readonly rev: number;
  readonly agents: readonly Recorded<AgentInterval>[];
  readonly usage: readonly UsageInterval[];
}
