/**
 * The HTTP API's request and response bodies (JSON, under /v1). The API validates every request against these
 * shapes at the edge (unknown fields rejected); the CLI is a client of the same shapes.
 *
 * Routes and roles (Authorization: Bearer <token>):
 *   GET    /healthz                          none        -> Health
 *   GET    /metrics                          none        Prometheus text
 *   GET    /v1/openapi.json                  none        the OpenAPI document
 *   POST   /v1/tasks                         submitter, admin     SubmitRequest -> { tasks: Task[] } (201)
 *   GET    /v1/tasks?state=a,b&team=&project=&limit=&cursor=   submitter, admin, finance -> { tasks: Task[], next }
 *   GET    /v1/tasks/{id}                    submitter, admin, finance -> Task
 *   POST   /v1/tasks/{id}/cancel             submitter, admin     -> Task
 *   GET    /v1/agents?state=a,b              admin, submitter, finance -> { agents: Agent[] }
 *   GET    /v1/status                        admin, submitter, finance -> Status
 *   POST   /v1/providers/{name}/retry        admin       {} -> ProviderRetry (closes its launch breakers; audited)
 *   GET    /v1/policy                        admin, submitter, finance -> Policy
 *   PUT    /v1/policy                        admin       Policy (whole) -> Policy (audited)
 *   POST   /v1/pause | /v1/resume            admin       {} -> { paused }  (audited)
 *   GET    /v1/audit?limit=                  admin       -> { entries: AuditEntry[] }
 *   GET    /v1/budgets                       finance, admin -> { budgets: BudgetView[] }
 *   GET    /v1/budgets/{id}                  finance, admin -> BudgetView (by id or name)
 *   PUT    /v1/budgets/{id}                  finance, admin  BudgetBody -> BudgetView (201 created, 200 replaced; audited)
 *   DELETE /v1/budgets/{id}                  finance, admin -> BudgetView (deleted; audited)
 *   GET    /v1/budgets/alerts?limit=         finance, admin -> { alerts: BudgetAlertView[] }
 *   GET    /v1/reports/chargeback?by=team|project|job&from=ISO&to=ISO   finance, admin -> ChargebackResponse
 *   POST   /v1/tokens                        admin       CreateTokenRequest -> CreateTokenResponse (201)
 *   GET    /v1/tokens                        admin       -> { tokens: TokenRecord[] }
 *   DELETE /v1/tokens/{id}                   admin       -> TokenRecord (revoked)
 *   POST   /v1/agents/register               agent (unbound registration token) or bootstrap credential
 *   POST   /v1/agents/{id}/heartbeat         agent (its own)   see src/agent/protocol.ts
 *   POST   /v1/agents/{id}/pull              agent (its own)
 *   POST   /v1/agents/{id}/tasks/{taskId}/report   agent (its own)
 *   POST   /v1/agents/{id}/leave             agent (its own)
 *
 * Every list (tasks, agents, tokens, budgets, alerts, audit) is a page: `limit` 1 to 1,000 (default 100) and
 * `cursor`, the `next` of the previous page (opaque; null on the last page). A scoped token (submitter or finance
 * with teams) sees only its teams' tasks, budgets and chargeback rows; another team's object is a 404.
 *
 * Errors: status 4xx/5xx with ErrorBody. 400 invalid JSON or field, 401 no or bad token, 403 wrong role, 404,
 * 405 method not allowed, 409 conflict, 413 body too large, 415 not JSON, 429 over a quota (Retry-After), 503 busy for a moment (Retry-After).
 * A 5xx never leaks internals.
 */
import type { Policy } from '../core/policy.ts';
import type { Resources } from '../core/resources.ts';
import type { TaskState } from '../core/task.ts';
import type { Role } from '../store/store.ts';
import type { TeamScope } from '../core/team-scope.ts';
import type { BudgetPeriod, BudgetScope, OnCap } from '../cost-model/budget.ts';
import type { ChargebackBy } from '../cost-model/chargeback.ts';

export interface ErrorBody {
  readonly error: {
    readonly code:
      | 'invalid_request'
      | 'unauthorized'
      | 'forbidden'
      | 'not_found'
      | 'method_not_allowed'
      | 'conflict'
      | 'payload_too_large'
      | 'unsupported_media_type'
      | 'too_many_requests'
      | 'unavailable'
      | 'rate_limited'
      | 'internal';
    readonly message: string;
    /** The dotted path of the bad field, for invalid_request. */
    readonly field?: string;
  };
}

/** One task as submitted. cpu in cores (number) or a quantity string (`500m`); memory in MiB or `512Mi`/`4Gi`. */
export interface TaskSpec {
  readonly command: readonly string[];
  readonly resources: {
    readonly cpu: number | string;
    readonly memory: number | string;
    readonly gpus?: number;
    readonly netMbps?: number;
  };
  /** Defaults to team/project/job `default`. */
  readonly owner?: { readonly team?: string; readonly project?: string; readonly job?: string };
  /** Default 0; higher runs first. */
  readonly priority?: number;
  /** Default false. */
  readonly revocable?: boolean;
  readonly constraints?: {
    readonly privateOnly?: boolean;
    readonly providers?: readonly string[];
    readonly gpuModels?: readonly string[];
    readonly labels?: Readonly<Record<string, string>>;
  };
}

export interface SubmitRequest {
  /** 1 to 1,000 tasks, all accepted or none. */
  readonly tasks: readonly TaskSpec[];
}

export interface Health {
  readonly ok: boolean;
  /** Whether this process holds the store's lease and runs the control loop. */
  readonly leader: boolean;
  readonly version: string;
}

/** The pool by location, for `spillway status`. */
export interface LocationSummary {
  /** `private:local`, `local:demo:local-a`, `aws-ec2:us-east-1a`. */
  readonly location: string;
  readonly kind: 'private' | 'cloud';
  readonly agents: number;
  readonly capacity: Resources;
  readonly allocated: Resources;
  readonly free: Resources;
  readonly pricePerHourUsd: number;
}

export interface Status {
  readonly clusterId: string;
  readonly paused: boolean;
  readonly leader: boolean;
  /**
   * Agents not terminated, counted by state (lost ones only from the last hour). Counts, not the agents: the status
   * stays the same size at any pool size; `GET /v1/agents` pages through the agents themselves.
   */
  readonly agentCounts: AgentCounts;
  /** Registered and draining agents by how they isolate their tasks (`cgroup-v2`, `cgroup-v1`, `none`). */
  readonly isolation: Readonly<Record<string, number>>;
  readonly tasks: Record<TaskState, number>;
  readonly locations: readonly LocationSummary[];
  /** What the cloud agents alive now cost per hour. */
  readonly cloudSpendPerHourUsd: number;
  /** Each configured provider's health and open launch breakers. */
  readonly providers: readonly ProviderStatus[];
}

/** How many agents are in each state that is not terminated. */
export type AgentCounts = Readonly<Record<'provisioning' | 'registered' | 'draining' | 'lost', number>>;

/** An open launch breaker: the cloud refused launches for a reason no retry fixes, so they back off. */
export interface BreakerStatus {
  /** The provider id (a provider breaker) or the offering key (an offering breaker). */
  readonly key: string;
  readonly scope: 'provider' | 'offering';
  /** `open`: waiting for `retryAtMs`; `trying`: one trial launch is in flight. */
  readonly state: 'open' | 'trying';
  readonly code: string | null;
  /** What the cloud refused: a subnet, a template, an instance type, a permission. */
  readonly subject: string | null;
  /** Refusals in a row. */
  readonly refusals: number;
  readonly openedAtMs: number;
  readonly retryAtMs: number;
  /** What waiting tasks show: `aws-ec2:us-east-1 refuses launches: ...; next try 12:05`. */
  readonly reason: string;
  /** The last refusal's message, with what to fix. */
  readonly error: string;
}

/**
 * A provider's health: `ok` (no breaker open), `degraded` (some offerings refused), `refusing` (every launch
 * refused), `unknown` (this process does not lead: the leader holds the breakers).
 */
export interface ProviderStatus {
  readonly id: string;
  readonly health: 'ok' | 'degraded' | 'refusing' | 'unknown';
  readonly breakers: readonly BreakerStatus[];
  /** Terminations the cloud has refused or failed at least once and that are still being retried with backoff. */
  readonly failingTerminations: readonly FailingTermination[];
}

/** An open terminate intent whose last attempt failed: the instances it names are still paid for. */
export interface FailingTermination {
  readonly intentId: string;
  readonly instanceIds: readonly string[];
  readonly attempts: number;
  /** The last failure, naming the instances the cloud refused (for example termination protection). */
  readonly error: string;
  readonly sinceMs: number;
}

export interface ProviderRetry {
  readonly providerId: string;
  /** Breakers the retry closed. */
  readonly closed: number;
}

export type PolicyBody = Policy;

export interface CreateTokenRequest {
  readonly role: Role;
  readonly name: string;
  /** Role `agent` only: how many agents this registration token may register in all. */
  readonly maxAgents?: number;
  /** Role `agent` only: the one site its agents may register at. */
  readonly site?: string;
  /** Role `agent` only: it registers no agent after this long (agents it registered keep their own tokens). */
  readonly expiresInMs?: number;
  /** Submitter and finance only: the teams the token acts for; absent means every team. */
  readonly teams?: readonly string[];
  /** With `teams`: only these projects within them. */
  readonly projects?: readonly string[];
}

export interface CreateTokenResponse {
  readonly id: string;
  readonly role: Role;
  readonly name: string;
  /** Shown once; only its hash is stored. */
  readonly token: string;
  /** A bounded registration token's bounds, as given. */
  readonly maxAgents?: number;
  readonly site?: string;
  readonly expiresAtMs?: number;
  /** Set when the token was created with a team scope. */
  readonly scope?: TeamScope;
}

/** `PUT /v1/budgets/{name}`. */
export interface BudgetBody {
  readonly scope: BudgetScope;
  /** `hour`, `day`, `month` (calendar, UTC), or `burn`: capUsd is then USD per hour, over any trailing hour. */
  readonly period: BudgetPeriod;
  /** At most six decimals. */
  readonly capUsd: number;
  /** Default `preempt` (a hard cap). */
  readonly onCap?: OnCap;
}

/** A budget and where its spend stands now. Money in USD, exact to the micro-dollar (six decimals). */
export interface BudgetView {
  readonly id: string;
  readonly name: string;
  readonly scope: BudgetScope;
  readonly period: BudgetPeriod;
  readonly capUsd: number;
  readonly onCap: OnCap;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly status: {
    /** The window counted now: the calendar period, or the trailing hour for `burn`. */
    readonly fromMs: number;
    readonly toMs: number;
    /** Cloud spend attributed to the scope in the window so far. */
    readonly spentUsd: number;
    /** spent / cap * 100. */
    readonly percent: number;
    readonly overrunUsd: number;
  };
}

export interface BudgetAlertView {
  readonly id: number;
  readonly budgetId: string;
  readonly budgetName: string;
  readonly scope: BudgetScope;
  readonly period: BudgetPeriod;
  readonly periodStartMs: number;
  /** 50, 80 or 100. */
  readonly percent: number;
  readonly spentUsd: number;
  readonly capUsd: number;
  readonly atMs: number;
}

/** USD by category, exact to the micro-dollar. */
export interface CostBreakdownUsd {
  readonly privateUsd: number;
  readonly onDemandUsd: number;
  readonly spotUsd: number;
  readonly idleUsd: number;
  /** onDemand + spot + idle. */
  readonly cloudUsd: number;
  /** private + cloud. */
  readonly totalUsd: number;
}

/** Requested against used resource-hours (see src/cost-model/measured-use.ts). */
export interface UseFiguresBody {
  readonly requestedCpuHours: number;
  readonly usedCpuHours: number;
  readonly requestedGiBHours: number;
  readonly usedGiBHours: number;
  /** used / requested of the runs that were measured; null without one. */
  readonly cpuEfficiency: number | null;
  readonly memoryEfficiency: number | null;
}

export interface ChargebackRowUsd extends CostBreakdownUsd {
  /** Requested and measured use of the group's tasks in the window; absent when none of them ran in it. */
  readonly use?: UseFiguresBody;
  readonly team: string;
  /** Set when grouping by project or job. */
  readonly project: string | null;
  /** Set when grouping by job. */
  readonly job: string | null;
}

/** `GET /v1/reports/chargeback`: the rows, costliest first, and totals that equal the ledger's to the micro-dollar. */
export interface ChargebackResponse {
  readonly by: ChargebackBy;
  readonly fromMs: number;
  readonly toMs: number;
  readonly rows: readonly ChargebackRowUsd[];
  readonly totals: CostBreakdownUsd;
  /** Requested and measured use of every task in the window. */
  readonly use?: UseFiguresBody;
}

/** A launch or terminate decision (GET /v1/decisions). */
export interface DecisionView {
  readonly id: string;
  readonly kind: 'launch' | 'terminate';
  readonly providerId: string;
  /** `pending` until the cloud confirms, then `done`; `failed` when it refused. */
  readonly state: 'pending' | 'done' | 'failed';
  /** Why the controller decided it. */
  readonly reason: string;
  readonly instanceIds: readonly string[];
  readonly attempts: number;
  /** The last cloud error, or empty. */
  readonly error: string;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  /** Launches only. */
  readonly count?: number;
  readonly offering?: {
    readonly zone: string;
    readonly instanceType: string;
    readonly lifecycle: string;
    readonly pricePerHourUsd: number;
  };
  /** Launches only: who the launch was for, with each owner's share. */
  readonly owners?: readonly {
    readonly team: string;
    readonly project: string;
    readonly job: string;
    readonly share: number;
  }[];
}

/** GET /v1/history/pool: per bucket, by location (`private:<site>`, `<providerId>:<zone>`), the agents present in it. */
export interface PoolHistory {
  readonly resolution: 'minute' | 'hour' | 'day';
  readonly bucketMs: number;
  readonly fromMs: number;
  readonly toMs: number;
  /** Oldest first; a bucket starts at `atMs`. */
  readonly points: readonly {
    readonly atMs: number;
    readonly locations: Readonly<Record<string, { readonly agents: number; readonly cpus: number }>>;
  }[];
}

/** GET /v1/history/spend: per bucket, by provider id, what the cloud billed for time within it. */
export interface SpendHistory {
  readonly resolution: 'minute' | 'hour' | 'day';
  readonly bucketMs: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly points: readonly { readonly atMs: number; readonly cloudSpendUsd: Readonly<Record<string, number>> }[];
}

/** A budget's spend in its current period with the forecast to the period's end (GET /v1/budgets/forecasts). */
export interface BudgetForecastView {
  readonly id: string;
  readonly name: string;
  readonly scope: BudgetScope;
  readonly period: BudgetPeriod;
  readonly capUsd: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly spentUsd: number;
  /** The spend rate of the last hour of the period so far (or of the whole period, when shorter). */
  readonly ratePerHourUsd: number;
  /** `spentUsd` plus that rate for the rest of the period; for `burn` budgets, the spend in the trailing hour. */
  readonly forecastUsd: number;
  /** Whether the forecast passes the cap. */
  readonly overCap: boolean;
  /** The spend through the period so far, at most 48 points, for a chart. */
  readonly series: readonly { readonly atMs: number; readonly spentUsd: number }[];
}
