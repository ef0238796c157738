import type { z } from 'zod';
import type { Agent } from '../core/agent.ts';
import type { TeamScope } from '../core/team-scope.ts';
import type { AgentRegistry } from '../pool/builtin/registry.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { Role, TokenRecord } from '../store/store.ts';
import type { ApiMetrics } from './metrics.ts';
import type { ProvidersPort } from './provider-status.ts';
import type { ResponseSchemaName } from './response-schemas.ts';
import type { Routable } from './router.ts';

/**
 * Who may call a route.
 * - `public`: anyone, no token.
 * - `roles`: a token of one of these roles. Agent tokens never qualify here: they use the two kinds below.
 * - `own-agent`: an agent token bound to the agent named by the `{id}` path parameter.
 * - `register`: an unbound agent token (a registration token for private agents) or a bootstrap credential.
 */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'roles'; readonly roles: readonly Exclude<Role, 'agent'>[] }
  | { readonly kind: 'own-agent' }
  | { readonly kind: 'register' };

/** The authenticated caller of one request. */
export type Caller =
  | { readonly kind: 'anonymous' }
  | {
      readonly kind: 'token';
      readonly token: TokenRecord;
      /** Set when the token acts through a web console session's cookie rather than a bearer header. */
      readonly viaSession?: true;
    }
  | { readonly kind: 'bootstrap'; readonly credential: string };

export interface RouteContext<B, Q> {
  readonly params: Readonly<Record<string, string>>;
  /** The query, validated by the route's `query` schema. */
  readonly query: Q;
  /** The body, validated by the route's `body` schema. */
  readonly body: B;
  readonly caller: Caller;
  /** The request's time from the injected clock. */
  readonly nowMs: number;
  /** The peer's IP address (rate limits and the audit log of refused registrations). */
  readonly remoteAddress?: string;
}

/** A handler's answer: JSON unless `contentType` says otherwise (then `body` is sent as a string). */
export interface RouteResult {
  readonly status?: number;
  readonly body: unknown;
  readonly contentType?: string;
}

/** How the OpenAPI document describes a route's success answer. */
export interface ResponseDoc {
  readonly status: number;
  readonly description: string;
  /** A schema under `components.schemas`; absent for non-JSON answers. */
  readonly schema?: ResponseSchemaName;
  readonly contentType?: string;
}

export interface Route extends Routable {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly summary: string;
  readonly access: Access;
  /** Validates the JSON body; a route without one reads no body. */
  readonly body?: z.ZodType;
  /** Validates the query parameters; a route without one rejects any. */
  readonly query?: z.ZodType;
  readonly response: ResponseDoc;
  /**
   * Whether a successful call may give the control loop something to do now (work submitted, room freed, an agent
   * joined, the policy changed): the server then wakes the loop. Given the validated body; absent, never.
   */
  readonly wakes?: (body: unknown) => boolean;
  handle(ctx: RouteContext<unknown, unknown>): RouteResult | Promise<RouteResult>;
}

interface RouteDefinition<B extends z.ZodType, Q extends z.ZodType>
  extends Omit<Route, 'handle' | 'body' | 'query' | 'wakes'> {
  readonly body?: B;
  readonly query?: Q;
  readonly wakes?: (body: z.output<B>) => boolean;
  handle(ctx: RouteContext<z.output<B>, z.output<Q>>): RouteResult | Promise<RouteResult>;
}

/** Types a route's handler by its schemas; the server validates before calling it. */
export function defineRoute<B extends z.ZodType = z.ZodNever, Q extends z.ZodType = z.ZodNever>(
  definition: RouteDefinition<B, Q>,
): Route {
  return definition as unknown as Route;
}

/** The audit log's actor for a caller: the token's name and id. */
export function actorOf(caller: Caller): string {
  if (caller.kind === 'token') return `${caller.token.name} (${caller.token.id})`;
  return caller.kind === 'bootstrap' ? 'bootstrap credential' : 'anonymous';
}

/**
 * The team scope a caller acts within: a scoped submitter or finance token's teams and projects; undefined (every
 * team) for admin, unscoped tokens and callers without a token.
 */
export function scopeOf(caller: Caller): TeamScope | undefined {
  return caller.kind === 'token' ? caller.token.scope : undefined;
}

/** What route handlers may use. Built once by the server from its deps. */
export interface RouteDeps {
  /** Every read and write of a route goes through the asynchronous port; a state change is one `transaction`. */
  readonly store: AsyncStore;
  readonly registry: AgentRegistry;
  readonly metrics: ApiMetrics;
  readonly isLeader: () => boolean;
  readonly version: string;
  /** The Slurm pool's munge key file, when Slurm is the pool (cloud nodes fetch it). */
  readonly slurmMungeKeyFile?: string;
  /** The controller's providers and launch breakers; absent, status lists no provider. */
  readonly providers?: ProvidersPort;
  /** A task's command plus environment at most, in UTF-8 bytes (`api.maxTaskPayloadBytes`). */
  readonly maxTaskPayloadBytes: number;
  /** See `ApiDeps.liveAgents`. */
  readonly liveAgents?: () => readonly Agent[] | undefined;
}
