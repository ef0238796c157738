import type { AgentState } from '../core/agent.ts';
import type { Resources } from '../core/resources.ts';

/** Agent and controller refuse each other when their protocol versions differ. */
export const PROTOCOL_VERSION = 1;

/**
 * How long an agent waits for an answer to a request (then it gives up; a POST is never sent again): a pull answer
 * older than this is never taken.
 */
export const AGENT_REQUEST_TIMEOUT_MS = 30_000;

/** POST /v1/agents/register. Authorization: an `agent` role token (private agents) or a bootstrap credential. */
export interface RegisterRequest {
  readonly protocolVersion: number;
  readonly name: string;
  readonly capacity: Resources;
  readonly labels: Readonly<Record<string, string>>;
  /** The provider's instance id; required with a bootstrap credential, absent for private agents. */
  readonly instanceId?: string;
  /** `private` site name for private agents (default `default`). */
  readonly site?: string;
  /**
   * A cloud agent's proof of which instance it is, as its cloud signed it; required with a bootstrap credential.
   * EC2 (and the local cloud): the instance identity document and its base64 RSA SHA-256 signature. GCE: the
   * instance identity token (a JWT, `format=full`, audience the controller's URL) as `document`, no signature.
   */
  readonly identity?: { readonly document: string; readonly signature?: string };
  /** How the agent isolates its tasks (`cgroup-v1`, `cgroup-v2`, `none`); absent means `none`. */
  readonly isolation?: 'cgroup-v1' | 'cgroup-v2' | 'none';
}

export interface RegisterResponse {
  readonly protocolVersion: number;
  readonly agentId: string;
  /** This agent's own credential: it may call only its own agent routes. */
  readonly token: string;
  readonly heartbeatIntervalMs: number;
  readonly pollIntervalMs: number;
}

/** POST /v1/agents/{id}/heartbeat */
export interface HeartbeatRequest {
  /**
   * Tasks the agent is running now, and those that ended whose exit or hand-back report is still on its way. The
   * controller requeues a task it has running here that the agent does not list, once the agent has taken the pull
   * answer that handed the task over (or a later one: see `pulledThroughMs`) and four heartbeat intervals have passed.
   */
  readonly runningTaskIds: readonly string[];
  /**
   * The `pulledAtMs` of the latest pull answer whose tasks `runningTaskIds` already includes. A task handed over at or
   * before it (by the same controller's clock) that the list leaves out never reached the agent or was lost by it; one
   * handed over later may be in an answer still on its way, for up to AGENT_REQUEST_TIMEOUT_MS. Absent (an agent that
   * has not pulled yet, or of an older version): the four intervals alone decide. Controllers older than this field
   * refuse it (400): upgrade the controllers before the agents.
   */
  readonly pulledThroughMs?: number;
  /**
   * `interruption`: the cloud announced the instance's interruption (spot) or preemption; its tasks return to pending
   * at once. `draining`: the agent is shutting down; it takes no new work and finishes or hands back what it runs.
   */
  readonly notice?: 'interruption' | 'draining';
}

export interface HeartbeatResponse {
  readonly state: AgentState;
  /** Tasks the agent runs that the controller no longer wants run (cancelled, requeued): kill them. */
  readonly stopTaskIds: readonly string[];
}

/** What an agent receives for each task it pulls. */
export interface AssignedTask {
  readonly id: string;
  readonly command: readonly string[];
  readonly resources: Resources;
  /** The policy lets the task's team reach the cloud metadata service (`metadataAccessTeams`); absent: it may not. */
  readonly metadataAccess?: boolean;
}

/** POST /v1/agents/{id}/pull */
export interface PullResponse {
  readonly tasks: readonly AssignedTask[];
  /** The controller's time of this hand-over; the agent echoes it in its heartbeats' `pulledThroughMs`. */
  readonly pulledAtMs: number;
}

/** POST /v1/agents/{id}/tasks/{taskId}/report */
export type ReportRequest =
  | { readonly kind: 'output'; readonly outputTail: string }
  | {
      readonly kind: 'exit';
      readonly exitCode: number;
      readonly outputTail: string;
      /** Why it failed beyond its exit code, from its cgroup: `out of memory: exceeded its 256Mi limit`. */
      readonly reason?: string;
      /** What it used, measured by its cgroup; zeros from an agent without isolation. */
      readonly usage?: { readonly cpuSeconds: number; readonly peakMemoryBytes: number };
    }
  /** The agent gives the task back unfinished (it is shutting down): the task returns to pending. */
  | { readonly kind: 'handback'; readonly reason: string; readonly outputTail: string };

/** POST /v1/agents/{id}/leave: a clean shutdown; the agent is terminated in the pool. */
export interface LeaveRequest {
  readonly reason: string;
}
