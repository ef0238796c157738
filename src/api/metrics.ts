import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProviderStatus } from './types.ts';

const PROVIDER_HEALTHS: readonly ProviderStatus['health'][] = ['ok', 'degraded', 'refusing', 'unknown'];

/**
 * Spillway's Prometheus metrics, in a registry of their own (never prom-client's global one, so two servers in one
 * process, as in tests, do not collide). The API server records HTTP traffic; the controller sets the rest.
 */
export class ApiMetrics {
  readonly registry: Registry;
  readonly #refreshers: (() => void | Promise<void>)[] = [];

  /** Requests by method, route template (never the raw path) and status. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpRequestDurationSeconds: Histogram<'method' | 'route'>;

  /** Tasks waiting for room now. */
  readonly pendingTasks: Gauge;
  /** Agents by state and location kind (`private`, `cloud`). */
  readonly agents: Gauge<'state' | 'location_kind'>;
  /** What the cloud agents alive now cost per hour, in USD. */
  readonly cloudSpendPerHourUsd: Gauge;
  /** Launch calls by provider id and outcome (`done`, `capacity`, `quota`, `failed`, `retry`). */
  readonly launches: Counter<'provider' | 'outcome'>;
  /** Instances terminated, by provider id. */
  readonly terminations: Counter<'provider'>;
  /** Decisions the controller made, by kind (`launch`, `terminate`, `place`, `drain`, ...). */
  readonly decisions: Counter<'kind'>;
  /** Budget alerts (50, 80, 100 percent of a cap in its period), by budget name and percent. */
  readonly budgetAlerts: Counter<'budget' | 'percent'>;
  /** 1 for each open launch breaker, by provider, breaker key, scope (`provider`, `offering`) and the cloud's code. */
  readonly launchBreakers: Gauge<'provider' | 'breaker' | 'scope' | 'code'>;
  /** Each provider's health: 1 on its current one (`ok`, `degraded`, `refusing`, `unknown`), 0 on the others. */
  readonly providerHealth: Gauge<'provider' | 'health'>;
  /** Instances a provider's list or lookup answered with that were not this cluster's (dropped), by provider id. */
  readonly foreignInstances: Counter<'provider'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'spillway_http_requests_total',
      help: 'HTTP requests handled, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpRequestDurationSeconds = new Histogram({
      name: 'spillway_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route template.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.pendingTasks = new Gauge({ name: 'spillway_pending_tasks', help: 'Tasks waiting for room.', registers });
    this.agents = new Gauge({
      name: 'spillway_agents',
      help: 'Agents by state and location kind.',
      labelNames: ['state', 'location_kind'],
      registers,
    });
    this.cloudSpendPerHourUsd = new Gauge({
      name: 'spillway_cloud_spend_per_hour_usd',
      help: 'What the cloud agents alive now cost per hour, in USD.',
      registers,
    });
    this.launches = new Counter({
      name: 'spillway_launches_total',
      help: 'Launch attempts by provider and outcome.',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    this.terminations = new Counter({
      name: 'spillway_terminations_total',
      help: 'Instances terminated, by provider.',
      labelNames: ['provider'],
      registers,
    });
    this.decisions = new Counter({
      name: 'spillway_decisions_total',
      help: 'Controller decisions by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.budgetAlerts = new Counter({
      name: 'spillway_budget_alerts_total',
      help: 'Budget alerts: a budget reached 50, 80 or 100 percent of its cap in its period.',
      labelNames: ['budget', 'percent'],
      registers,
    });
    this.launchBreakers = new Gauge({
      name: 'spillway_launch_breaker_open',
      help: 'Open launch breakers (a provider refused launches; they back off): 1 per breaker.',
      labelNames: ['provider', 'breaker', 'scope', 'code'],
      registers,
    });
    this.providerHealth = new Gauge({
      name: 'spillway_provider_health',
      help: "Each provider's health: 1 on its current one (ok, degraded, refusing, unknown).",
      labelNames: ['provider', 'health'],
      registers,
    });
    this.foreignInstances = new Counter({
      name: 'spillway_foreign_instances_total',
      help: "Instances a provider's list or lookup answered with that were not this cluster's: dropped, never acted on.",
      labelNames: ['provider'],
      registers,
    });
  }

  /**
   * Sets the breaker and health gauges from each provider's status, replacing what they held: a closed breaker's
   * series disappears.
   */
  recordProviders(providers: readonly ProviderStatus[]): void {
    this.launchBreakers.reset();
    this.providerHealth.reset();
    for (const p of providers) {
      for (const health of PROVIDER_HEALTHS) this.providerHealth.set({ provider: p.id, health }, p.health === health ? 1 : 0);
      for (const b of p.breakers) {
        this.launchBreakers.set({ provider: p.id, breaker: b.key, scope: b.scope, code: b.code ?? '' }, 1);
      }
    }
  }

  /**
   * Runs `refresh` before every exposition, awaiting it when it returns a promise (a read through the asynchronous
   * store): for gauges that cost a read of the whole pool, so they are read when someone scrapes, not on every pass
   * of the loop. A refresh that throws or rejects fails that exposition (a 500), as it did when it was synchronous.
   */
  onExposition(refresh: () => void | Promise<void>): void {
    this.#refreshers.push(refresh);
  }

  /** The registry's exposition text and its content type, for GET /metrics. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    for (const refresh of this.#refreshers) await refresh();
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
