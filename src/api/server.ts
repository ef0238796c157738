import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../core/clock.ts';
import { SpillwayError, ValidationError, errorMessage } from '../core/errors.ts';
import { parseWith } from '../config/validate.ts';
import type { Logger } from '../log/logger.ts';
import type { AgentRegistry } from '../pool/builtin/registry.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { Agent } from '../core/agent.ts';
import { amortizedPrivateRate, type PrivateRate } from '../cost-model/ledger.ts';
import { DEFAULT_MAX_TASK_PAYLOAD_BYTES } from './admission.ts';
import { authenticate, authenticateSession } from './auth.ts';
import { ConsolePages } from '../console/pages.ts';
import { activeSession, checkSameOrigin } from '../console/session.ts';
import { readJsonBody } from './body.ts';
import { HttpError, toErrorResponse } from './errors.ts';
import type { ApiMetrics } from './metrics.ts';
import type { ProvidersPort } from './provider-status.ts';
import { buildOpenApiDocument } from './openapi.ts';
import type { Caller, Route, RouteDeps, RouteResult } from './route.ts';
import { Router } from './router.ts';
import { agentProtocolRoutes } from './routes/agent-protocol.ts';
import { slurmRoutes } from './routes/slurm.ts';
import { agentsAndStatusRoutes } from './routes/agents-and-status.ts';
import { auditRoutes } from './routes/audit.ts';
import { providerRoutes } from './routes/providers.ts';
import { budgetRoutes } from './routes/budgets.ts';
import { reportRoutes } from './routes/reports.ts';
import { policyAndPauseRoutes } from './routes/policy-and-pause.ts';
import { serviceRoutes } from './routes/service.ts';
import { taskRoutes } from './routes/tasks.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { consoleRoutes } from './routes/console.ts';
import { decisionRoutes } from './routes/decisions.ts';
import { historyRoutes } from './routes/history.ts';
import { taskRunRoutes } from './routes/task-runs.ts';
import { noQuerySchema } from './schemas.ts';

/** Where and how the server listens. */
export interface ApiListenOptions {
  readonly host: string;
  /** 0 picks a free port; `ApiServer.url` tells which. */
  readonly port: number;
  /** PEM certificate chain and key: when given, the server speaks only HTTPS. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Request bodies over this size are refused with 413 before they are read. */
  readonly maxBodyBytes: number;
}

export interface ApiDeps {
  /**
   * The store, through the asynchronous port: every request reads and writes only through it, and each state change
   * a request makes is one `transaction`.
   */
  readonly store: AsyncStore;
  readonly registry: AgentRegistry;
  readonly logger: Logger;
  /** Request times (`nowMs` of every store write) come from this clock. */
  readonly clock: Clock;
  readonly metrics: ApiMetrics;
  readonly listen: ApiListenOptions;
  /** What GET /healthz and the status report: whether this process holds the lease, and the build's version. */
  readonly health: { readonly isLeader: () => boolean; readonly version: string };
  /** The amortized rate of private agents in chargeback reports; default the default `privateRates`. */
  readonly privateRate?: PrivateRate;
  /** The Slurm pool's munge key file, when Slurm is the pool (GET /v1/agents/{id}/slurm/munge-key). */
  readonly slurmMungeKeyFile?: string;
  /** The controller's providers and launch breakers (status, POST /v1/providers/{name}/retry). */
  readonly providers?: ProvidersPort;
  /** A task's command plus environment at most, in UTF-8 bytes; default 64 KiB. */
  readonly maxTaskPayloadBytes?: number;
  /** Called after a successful request that may give the control loop work now (a route's `wakes`). */
  readonly onChange?: () => void;
  /**
   * The leading controller's in-memory agents (src/model/), each with its allocation, when its model is loaded;
   * undefined otherwise (a standby, a model still loading). The status counts them rather than reading every agent
   * from the store. Absent: the status always reads the store.
   */
  readonly liveAgents?: () => readonly Agent[] | undefined;
}

export interface ApiServer {
  /** `http://127.0.0.1:7070`, with the port actually bound. */
  readonly url: string;
  /** Stops listening and closes every connection, idle or not. */
  close(): Promise<void>;
}

const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Starts the HTTP JSON API. Each request is routed, authenticated, its query and body validated in full, and only
 * then handled, so bad input changes nothing. One debug line is logged per request (method, route template, status,
 * duration); never a header, body or token. Rejects when the address cannot be bound.
 */
export async function startApiServer(deps: ApiDeps): Promise<ApiServer> {
  const routeDeps: RouteDeps = {
    store: deps.store,
    registry: deps.registry,
    metrics: deps.metrics,
    isLeader: deps.health.isLeader,
    version: deps.health.version,
    maxTaskPayloadBytes: deps.maxTaskPayloadBytes ?? DEFAULT_MAX_TASK_PAYLOAD_BYTES,
    ...(deps.slurmMungeKeyFile ? { slurmMungeKeyFile: deps.slurmMungeKeyFile } : {}),
    ...(deps.providers ? { providers: deps.providers } : {}),
    ...(deps.liveAgents ? { liveAgents: deps.liveAgents } : {}),
  };
  let document: unknown;
  const routes: Route[] = [
    ...serviceRoutes(routeDeps, () => (document ??= buildOpenApiDocument(routes, deps.health.version))),
    ...taskRoutes(routeDeps),
    ...agentsAndStatusRoutes(routeDeps),
    ...policyAndPauseRoutes(routeDeps),
    ...tokenRoutes(routeDeps),
    ...auditRoutes(routeDeps),
    ...providerRoutes(routeDeps),
    ...budgetRoutes(routeDeps),
    ...reportRoutes(routeDeps, { privateRate: deps.privateRate ?? amortizedPrivateRate() }),
    ...agentProtocolRoutes(routeDeps),
    ...slurmRoutes(routeDeps),
    ...consoleRoutes(routeDeps),
    ...decisionRoutes(routeDeps),
    ...historyRoutes(routeDeps),
    ...taskRunRoutes(routeDeps),
  ];
  const router = new Router(routes);
  const consolePages = new ConsolePages({ ...deps, secure: deps.listen.tls !== undefined });
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const consoleUrl = URL.parse(req.url ?? '/', 'http://spillway.invalid');
    const answered =
      consoleUrl && consolePages.owns(consoleUrl.pathname)
        ? consolePages.serve(req, res, consoleUrl)
        : handle(deps, router, req, res);
    answered.catch((err: unknown) => {
      deps.logger.error('failed answering request', { error: errorMessage(err) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  const { tls } = deps.listen;
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, handler) : http.createServer(handler);
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  await listen(server, deps.listen.host, deps.listen.port);
  const { port } = server.address() as AddressInfo;
  const host = deps.listen.host.includes(':') ? `[${deps.listen.host}]` : deps.listen.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  deps.logger.info('api listening', { url });
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(
  deps: ApiDeps,
  router: Router<Route>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const startedNs = process.hrtime.bigint();
  const method = KNOWN_METHODS.has(req.method ?? '') ? (req.method as string) : 'OTHER';
  let template = '(unmatched)';
  let status: number;
  try {
    const url = requestUrl(req.url);
    const { route, params } = router.match(method, url.pathname);
    template = route.path;
    const caller = await callerOf(deps, req, route, params, `${method} ${route.path}`);
    const query: unknown = parseWith(route.query ?? noQuerySchema, queryObject(url.searchParams), 'query');
    const body: unknown = route.body
      ? parseWith(route.body, await readJsonBody(req, deps.listen.maxBodyBytes))
      : undefined;
    const remoteAddress = req.socket.remoteAddress ?? '';
    const result = await route.handle({ params, query, body, caller, nowMs: deps.clock.now(), remoteAddress });
    status = result.status ?? 200;
    send(res, status, result, {});
    if (route.wakes?.(body) === true) deps.onChange?.();
  } catch (err) {
    const answer = toErrorResponse(err);
    if (answer.internal)
      deps.logger.error('failed handling request', { method, route: template, error: errorMessage(err) });
    status = answer.status;
    send(res, status, { body: answer.body }, answer.headers);
  }
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  deps.metrics.httpRequests.inc({ method, route: template, status: String(status) });
  deps.metrics.httpRequestDurationSeconds.observe({ method, route: template }, seconds);
  deps.logger.debug('handled request', {
    method,
    route: template,
    status,
    durationMs: Math.round(seconds * 1e6) / 1e3,
  });
}

/**
 * A request without an Authorization header may act through a web console session (its cookie); a state-changing one
 * must then pass the same-origin and CSRF checks. Bearer requests are authenticated as they always were.
 */
async function callerOf(
  deps: ApiDeps,
  req: http.IncomingMessage,
  route: Route,
  params: Readonly<Record<string, string>>,
  what: string,
): Promise<Caller> {
  const session =
    req.headers.authorization === undefined && route.access.kind !== 'public'
      ? await activeSession(deps.store, req, deps.clock.now(), deps.listen.tls !== undefined)
      : undefined;
  if (session === undefined) return authenticate(deps.store, req.headers.authorization, route.access, params, what);
  if (route.method !== 'GET') checkSameOrigin(req, what, session);
  return authenticateSession(session.token, route.access, params, what);
}

/**
 * The request target, in origin form only (RFC 9112 section 3.2.1): a path, then a query. Resolved as a path under a
 * fixed origin, so a target that starts with `//` stays a path (`//x/v1/pause` is not `/v1/pause` on host `x`, which a
 * proxy filtering on paths would let through); any other form (`http://...`, `*`) is refused.
 */
function requestUrl(raw: string | undefined): URL {
  const target = raw ?? '/';
  if (!target.startsWith('/')) {
    throw new HttpError(400, 'invalid_request', 'reading the request: the target must be a path (origin form)');
  }
  try {
    return new URL(`http://spillway.invalid${target}`);
  } catch {
    throw new HttpError(400, 'invalid_request', 'reading the request: the URL is not valid');
  }
}

/** Query parameters as an object of strings; a parameter given twice is an error, not a silent pick. */
function queryObject(params: URLSearchParams): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of params) {
    if (Object.hasOwn(query, key)) throw new ValidationError(`query.${key}`, 'given more than once');
    query[key] = value;
  }
  return query;
}

function send(
  res: http.ServerResponse,
  status: number,
  result: RouteResult,
  headers: Readonly<Record<string, string>>,
): void {
  if (res.headersSent || res.destroyed) return;
  const text = result.contentType ? String(result.body) : JSON.stringify(result.body);
  res.writeHead(status, {
    ...headers,
    'content-type': result.contentType ?? 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new SpillwayError(`starting the API server on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
