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
 * 405 method not allowed, 409 conflict, 413 body too large, 415 not JSON. A 5xx never leaks internals.
 */
import type { Agent } from '../core/agent.ts';
import type { Policy } from '../core/policy.ts';
import type { Resources } from '../core/resources.ts';
import type { TaskState } from '../core/task.ts';
import type { Role } from '../store/store.ts';

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
