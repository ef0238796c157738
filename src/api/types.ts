/**
 * The HTTP API's request and response bodies (JSON, under /v1). The API validates every request against these
 * shapes at the edge (unknown fields rejected); the CLI is a client of the same shapes.
 *
 * Routes and roles (Authorization: Bearer <token>):
 *   GET    /healthz                          none        -> Health
 *   GET    /metrics                          none        Prometheus text
 *   GET    /v1/openapi.json                  none        the OpenAPI document
 *   POST   /v1/tasks                         submitter, admin     SubmitRequest -> { tasks: Task[] } (201)
 *   GET    /v1/tasks?state=a,b&team=&project=&limit=   submitter, admin, finance -> { tasks: Task[] }
 *   GET    /v1/tasks/{id}                    submitter, admin, finance -> Task
 *   POST   /v1/tasks/{id}/cancel             submitter, admin     -> Task
 *   GET    /v1/agents?state=a,b              admin, submitter, finance -> { agents: Agent[] }
 *   GET    /v1/status                        admin, submitter, finance -> Status
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
 * Errors: status 4xx/5xx with ErrorBody. 400 invalid JSON or field, 401 no or bad token, 403 wrong role, 404,
 * 405 method not allowed, 409 conflict, 413 body too large, 415 not JSON, 503 busy for a moment (Retry-After).
 * A 5xx never leaks internals.
 */
import type { Agent } from '../core/agent.ts';
import type { Policy } from '../core/policy.ts';
import type { Resources } from '../core/resources.ts';
import type { TaskState } from '../core/task.ts';
import type { Role } from '../store/store.ts';
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
      | 'unavailable'
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
  /** Agents not terminated (provisioning, registered, draining, and lost ones from the last hour). */
  readonly agents: readonly Agent[];
  readonly tasks: Record<TaskState, number>;
  readonly locations: readonly LocationSummary[];
  /** What the cloud agents alive now cost per hour. */
  readonly cloudSpendPerHourUsd: number;
}

export type PolicyBody = Policy;

export interface CreateTokenRequest {
  readonly role: Role;
  readonly name: string;
}

export interface CreateTokenResponse {
  readonly id: string;
  readonly role: Role;
  readonly name: string;
  /** Shown once; only its hash is stored. */
  readonly token: string;
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
