/**
 * The composition root: config -> store, providers, pool, API, controller. Only this file builds concrete adapters.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CONTROLLER_LEASE, Controller } from './autoscaler/controller.ts';
import type { Agent } from './core/agent.ts';
import { systemClock, type Clock } from './core/clock.ts';
import { hashToken, newApiToken } from './core/credentials.ts';
import { ConflictError, errorMessage } from './core/errors.ts';
import { homePath } from './config/load.ts';
import { effectivePolicy, type Config } from './config/schema.ts';
import { toBudgetSpec } from './config/budget-schema.ts';
import { amortizedPrivateRate } from './cost-model/ledger.ts';
import type { Logger } from './log/logger.ts';
import { ApiMetrics } from './api/metrics.ts';
import { providerStatuses, type ProvidersPort } from './api/provider-status.ts';
import { startApiServer } from './api/server.ts';
import { LocalAgents } from './agent/local-agents.ts';
import { AgentRegistry } from './pool/builtin/registry.ts';
import { BuiltinPool } from './pool/builtin/builtin-pool.ts';
import { createSlurmPool, slurmBootRenderer } from './pool/slurm/slurm-setup.ts';
import { toPriceBookUpdates } from './providers/aws-ec2/price-book-feed.ts';
import { loadCatalog } from './cost-model/catalog.ts';
import { PriceBook } from './cost-model/price-book.ts';
import { LocalProvider } from './providers/local/local-provider.ts';
import { identityVerifiers } from './providers/identity-verifiers.ts';
import type { CloudProvider } from './providers/provider.ts';
import { openStore } from './store/open-store.ts';
import { LeaseTenure, fencedStore } from './store/fenced-store.ts';
import type { AsyncStore } from './store/async-store.ts';
import { ClusterModel } from './model/cluster-model.ts';
import { recordPoolGauges } from './api/pool-gauges.ts';
import type { Role } from './store/store.ts';

export const VERSION = '0.1.0';

export interface ServeOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
}

export interface RunningServer {
  readonly url: string;
  readonly adminTokenFile: string;
  readonly controller: Controller;
  readonly store: AsyncStore;
  close(): Promise<void>;
}

/** The argv prefix that starts `spillway agent` on the Node running this process. */
export function agentCommand(): string[] {
  const entry = import.meta.url.endsWith('.ts') ? './cli/main.ts' : './cli/main.js';
  return [process.execPath, fileURLToPath(new URL(entry, import.meta.url)), 'agent'];
}

/** Starts Spillway: the API, the control loop and (when configured) the local private agents. */
export async function serve(config: Config, opts: ServeOptions): Promise<RunningServer> {
  const { logger } = opts;
  const clock = opts.clock ?? systemClock;
  const home = homePath(config);
  const opened = await openStore(config, logger);
  const asyncStore = opened.store;
  logger.info('opened the store', { store: opened.describe });
  // What the loop writes goes through this view: each write carries the controller's lease epoch, and the store
  // refuses it once another controller has taken over (PostgreSQL: controllers on several machines).
  const tenure = new LeaseTenure(CONTROLLER_LEASE);
  const leaderStore = fencedStore(asyncStore, tenure, clock);
  await asyncStore.meta.bindClusterId(config.clusterId);
  if (await asyncStore.policy.seed(effectivePolicy(config), clock.now())) logger.info('seeded policy from config');
  const seededBudgets = await asyncStore.budgets.seed(
    config.budgets.map((b) => toBudgetSpec(b.name, b)),
    clock.now(),
  );
  if (seededBudgets > 0) logger.info('seeded budgets from config', { count: seededBudgets });

  const tls = config.api.tls
    ? { cert: readFileSync(config.api.tls.certFile, 'utf8'), key: readFileSync(config.api.tls.keyFile, 'utf8') }
    : undefined;
  const caBundle = config.api.tls ? readFileSync(config.api.tls.caFile ?? config.api.tls.certFile, 'utf8') : '';

  // Providers before the API: a config they refuse stops the start before anything listens.
  // The price book (the bundled catalog, or config's priceCatalog) takes the clouds' live prices as they refresh.
  const priceBook = config.providers.some((p) => p.kind !== 'local')
    ? new PriceBook(loadCatalog(config.priceCatalog))
    : undefined;
  // Slurm mode: every provider's instances boot the Slurm node join script.
  const bootRenderer = config.pool.kind === 'slurm' ? { renderBootScript: slurmBootRenderer(config.pool) } : {};
  const metrics = new ApiMetrics();
  const onForeignInstances = (providerId: string, instances: readonly unknown[]): void =>
    metrics.foreignInstances.inc({ provider: providerId }, instances.length);
  // A cloud's adapter, and its SDK, is loaded only when a provider of that cloud is configured: GCE's client alone
  // keeps about 250 MiB resident, which a controller that bursts elsewhere must not carry (issue 13's peak RSS).
  const kinds = new Set(config.providers.map((p) => p.kind));
  const ec2 = kinds.has('aws-ec2') ? await import('./providers/aws-ec2/aws-ec2-provider.ts') : undefined;
  const gce = kinds.has('gcp-compute') ? await import('./providers/gcp-compute/gcp-compute-provider.ts') : undefined;
  const providers: CloudProvider[] = config.providers.map((p) =>
    p.kind === 'aws-ec2'
      ? new ec2!.AwsEc2Provider({
          config: p,
          clock,
          logger,
          ...(priceBook ? { priceBook } : {}),
          ...bootRenderer,
          onForeignInstances,
          onPriceUpdates: (updates) => {
            const result = priceBook?.apply(toPriceBookUpdates(updates));
            logger.debug('refreshed prices', {
              providerId: `aws-ec2:${p.name ?? p.region}`,
              applied: result?.applied ?? 0,
              rejected: result?.rejected.length ?? 0,
            });
          },
        })
      : p.kind === 'gcp-compute'
        ? new gce!.GcpComputeProvider({
            config: p,
            clock,
            logger,
            ...(priceBook ? { priceBook } : {}),
            ...bootRenderer,
            onForeignInstances,
          })
        : new LocalProvider({
            config: p,
            stateDir: p.stateDir ?? join(home, 'local-cloud', p.name),
            agentCommand: agentCommand(),
            logger: logger.child({ providerId: `local:${p.name}` }),
            ...bootRenderer,
          }),
  );
  const holderId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const verifiers = identityVerifiers(config.providers, providers);
  // The controller's URL is the audience of GCE identity tokens; it is known once the API listens.
  let audience = config.api.agentUrls?.[0] ?? config.api.publicUrl ?? '';
  const registry = new AgentRegistry({
    identityVerifiers: verifiers,
    audience: () => audience,
    store: asyncStore,
    clock,
    heartbeatIntervalMs: config.pool.heartbeatIntervalMs,
    pollIntervalMs: Math.min(1_000, config.pool.heartbeatIntervalMs),
    logger,
  });
  // The API starts first (its URL goes into every launch); until the controller exists, this process leads nothing.
  let isLeader = (): boolean => false;
  const leading: { controller?: Controller } = {};
  const providersPort: ProvidersPort = {
    ids: () => providers.map((p) => p.id),
    breakers: () => leading.controller?.breakers() ?? [],
    retry: (name, actor) => {
      if (!leading.controller) throw new ConflictError(`retrying provider ${name}: the controller is not running yet`);
      return leading.controller.retryProvider(name, actor);
    },
  };
  /** The leading controller's model's agents, once it is loaded. */
  const modelAgents = (): readonly Agent[] | undefined => {
    const model = ClusterModel.of(asyncStore);
    return model.loaded ? model.agents() : undefined;
  };
  const api = await startApiServer({
    store: asyncStore,
    registry,
    logger,
    clock,
    metrics,
    listen: { host: config.api.host, port: config.api.port, tls, maxBodyBytes: config.api.maxBodyBytes },
    maxTaskPayloadBytes: config.api.maxTaskPayloadBytes,
    health: { isLeader: () => isLeader(), version: VERSION },
    liveAgents: modelAgents,
    privateRate: amortizedPrivateRate(config.privateRates),
    providers: providersPort,
    // A submission, a finished task or a new agent starts a pass now instead of at the next interval.
    onChange: () => leading.controller?.wake(),
    ...(config.pool.kind === 'slurm' ? { slurmMungeKeyFile: config.pool.mungeKeyFile } : {}),
  });
  // Every controller's URL goes to new instances (`api.agentUrls`, with several controllers), and the first is the
  // audience of GCE identity tokens on every controller.
  const agentUrls = config.api.agentUrls ?? [config.api.publicUrl ?? api.url];
  const controllerUrl = agentUrls.join(',');
  audience = agentUrls[0]!;

  // Slurm mode: Slurm is the pool, and the planner sees only the offerings its cloud shapes cover.
  const slurm =
    config.pool.kind === 'slurm'
      ? createSlurmPool({ config: config.pool, store: asyncStore, logger, providers })
      : undefined;
  const pool =
    slurm?.pool ??
    new BuiltinPool({ store: leaderStore, logger, lostAfterMs: config.pool.lostAfterMs, agentsIsolate: true });
  const serverSecret = await asyncStore.meta.serverSecret();
  const controller = new Controller({
    store: leaderStore,
    tenure,
    pool,
    providers: slurm?.providers ?? providers,
    clock,
    logger,
    settings: config.controller,
    identity: {
      holderId,
      launch: { clusterId: config.clusterId, controllerUrl, caBundle, serverSecret },
    },
    observer: {
      onPass: (report) => {
        asyncStore.intents
          .open()
          .then((open) => metrics.recordProviders(providerStatuses(providersPort, report.leader, open)))
          .catch((err: unknown) => logger.warn('could not read intents for metrics', { error: errorMessage(err) }));
        metrics.decisions.inc({ kind: 'place' }, report.placed);
        metrics.decisions.inc({ kind: 'launch' }, report.launches.length);
        metrics.decisions.inc({ kind: 'terminate' }, report.terminates.length);
      },
      onBudgetAlert: (alert) => metrics.budgetAlerts.inc({ budget: alert.budgetName, percent: String(alert.percent) }),
      onForeignInstances: (providerId, count) => metrics.foreignInstances.inc({ provider: providerId }, count),
      onCall: (intent, outcome) => {
        if (intent.kind === 'launch') metrics.launches.inc({ provider: intent.providerId, outcome });
        else if (outcome === 'done')
          metrics.terminations.inc({ provider: intent.providerId }, intent.instanceIds.length);
      },
    },
  });
  // The pool's gauges count every agent: when /metrics is scraped, not on every pass; from the model while leading.
  metrics.onExposition(() => recordPoolGauges(asyncStore, metrics, controller.isLeader() ? modelAgents() : undefined));
  isLeader = () => controller.isLeader();
  leading.controller = controller;
  controller.start();

  const adminTokenFile = join(home, 'admin.token');
  await ensureTokenFile(asyncStore, adminTokenFile, 'admin', 'local-admin', clock);
  writeFileSync(join(home, 'api.url'), `${api.url}\n`, { mode: 0o600 });

  let privateAgents: LocalAgents | undefined;
  const spec = config.pool.privateAgents;
  if (spec && spec.count > 0) {
    const agentToken = await ensureTokenFile(
      asyncStore,
      join(home, 'agent.token'),
      'agent',
      'local-private-agents',
      clock,
    );
    privateAgents = new LocalAgents({
      agentCommand: agentCommand(),
      url: api.url,
      token: agentToken,
      caFile: config.api.tls ? (config.api.tls.caFile ?? config.api.tls.certFile) : undefined,
      count: spec.count,
      cpuMillis: spec.cpu,
      memoryMiB: spec.memory,
      site: spec.site,
      logger,
    });
  }
  logger.info('serving', { url: api.url, clusterId: config.clusterId, providers: providers.map((p) => p.id) });

  return {
    url: api.url,
    adminTokenFile,
    controller,
    store: asyncStore,
    async close() {
      await privateAgents?.stop();
      await controller.stop(config.controller.releaseOnShutdown ? { release: 'the controller is shutting down' } : {});
      await api.close();
      await asyncStore.close();
    },
  };
}

/**
 * Returns the token kept in `file` when the store still honours it; otherwise creates one with `role` and writes it
 * there, readable only by this user. Lets the demo work without anyone typing a token.
 */
async function ensureTokenFile(
  store: AsyncStore,
  file: string,
  role: Role,
  name: string,
  clock: Clock,
): Promise<string> {
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    const record = await store.tokens.byHash(hashToken(token));
    if (record && record.revokedAtMs === null && record.role === role) return token;
  }
  const token = newApiToken();
  await store.tokens.create(
    { id: `tok-${randomUUID()}`, role, name, agentId: null, createdAtMs: clock.now() },
    hashToken(token),
  );
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
