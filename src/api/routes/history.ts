import type { Micros } from '../../core/money.ts';
import { microsToUsd } from '../../core/money.ts';
import { scopeAllows, type TeamScope } from '../../core/team-scope.ts';
import { attributeAgent, CLOUD_CATEGORIES } from '../../cost-model/attribution.ts';
import { budgetLedgerFromMs } from '../../cost-model/budget.ts';
import { budgetForecasts } from '../../cost-model/budget-forecast.ts';
import { usageByAgent, type AgentInterval, type TimeWindow, type UsageInterval } from '../../cost-model/ledger.ts';
import {
  cloudSpend,
  HISTORY_RESOLUTIONS,
  historyWindow,
  poolSizes,
  type HistoryResolution,
} from '../../cost-model/pool-history.ts';
import { ValidationError } from '../../core/errors.ts';
import { locationKey } from '../status.ts';
import { defineRoute, scopeOf, type Route, type RouteDeps } from '../route.ts';
import { historyQuerySchema, noQuerySchema } from '../schemas.ts';
import type { BudgetForecastView, PoolHistory, SpendHistory } from '../types.ts';
import { budgetInScope } from './budgets.ts';

/**
 * How long a history answer is reused. Every open console polls the history; this bounds the work to one computation
 * per resolution and scope in this time, however many pages are open.
 */
export const HISTORY_REUSE_MS = 5_000;
/** At most this many answers are kept for reuse (one per resolution and scope). */
const HISTORY_CACHE_ENTRIES = 64;

/**
 * GET /v1/history/pool, GET /v1/history/spend and GET /v1/budgets/forecasts: what the console charts, read from the
 * cost ledger.
 */
export function historyRoutes({ store }: RouteDeps): Route[] {
  const cache = new Map<string, { atMs: number; body: unknown }>();
  const reuse = (key: string, nowMs: number, compute: () => unknown): unknown => {
    const hit = cache.get(key);
    if (hit !== undefined && nowMs >= hit.atMs && nowMs - hit.atMs < HISTORY_REUSE_MS) return hit.body;
    const body = compute();
    if (cache.size >= HISTORY_CACHE_ENTRIES) cache.clear();
    cache.set(key, { atMs: nowMs, body });
    return body;
  };
  const ledgerFor = (resolution: HistoryResolution, nowMs: number, last: number | undefined) =>
    store.ledger.overlapping(historyWindow(resolution, nowMs, last).window.fromMs, nowMs + 1);
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/history/pool',
      summary:
        'The pool by location over time: the agents (and their CPUs) present in each bucket. `resolution` `minute` ' +
        '(default) covers the last 24 hours, `hour` 30 days, `day` 90 days, or only the `last` N buckets; buckets ' +
        'aligned to UTC. Read from the ' +
        `cost ledger; an answer may be up to ${HISTORY_REUSE_MS / 1000} s old.`,
      access: { kind: 'roles', roles: ['admin', 'submitter', 'finance'] },
      query: historyQuerySchema,
      response: { status: 200, description: 'The history, oldest bucket first.', schema: 'PoolHistory' },
      handle: ({ query, nowMs }) => {
        const resolution = query.resolution ?? 'minute';
        const last = checkedLast(resolution, query.last);
        const body = reuse(`pool:${resolution}:${last ?? ''}`, nowMs, (): PoolHistory => {
          const { window, bucketMs, buckets } = poolSizes(
            ledgerFor(resolution, nowMs, last).agents,
            resolution,
            nowMs,
            locationKey,
            last,
          );
          return {
            resolution,
            bucketMs,
            fromMs: window.fromMs,
            toMs: window.toMs,
            points: buckets.map((b) => ({
              atMs: b.fromMs,
              locations: Object.fromEntries(
                [...b.locations].map(([key, v]) => [key, { agents: v.agents, cpus: v.cpuMillis / 1000 }]),
              ),
            })),
          };
        });
        return { body };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/history/spend',
      summary:
        'The cloud spend by provider over time: what the machines billed within each bucket, at the resolutions of ' +
        '/v1/history/pool. For a team-scoped token, its teams’ share only (the chargeback attribution rule). An ' +
        `answer may be up to ${HISTORY_REUSE_MS / 1000} s old.`,
      access: { kind: 'roles', roles: ['admin', 'submitter', 'finance'] },
      query: historyQuerySchema,
      response: { status: 200, description: 'The spend, oldest bucket first.', schema: 'SpendHistory' },
      handle: ({ query, caller, nowMs }) => {
        const resolution = query.resolution ?? 'hour';
        const last = checkedLast(resolution, query.last);
        const scope = scopeOf(caller);
        const key = `spend:${resolution}:${last ?? ''}:${scope === undefined ? '*' : JSON.stringify(scope)}`;
        const body = reuse(key, nowMs, (): SpendHistory => {
          const ledger = ledgerFor(resolution, nowMs, last);
          const billed = scope === undefined ? undefined : scopedSpend(ledger.usage, scope, nowMs);
          const { window, bucketMs, buckets } = cloudSpend(ledger.agents, resolution, nowMs, billed, last);
          return {
            resolution,
            bucketMs,
            fromMs: window.fromMs,
            toMs: window.toMs,
            points: buckets.map((b) => ({
              atMs: b.fromMs,
              cloudSpendUsd: Object.fromEntries([...b.micros].map(([key, micros]) => [key, microsToUsd(micros)])),
            })),
          };
        });
        return { body };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/budgets/forecasts',
      summary:
        "Each budget's spend in its current period with a forecast to the period's end at the last hour's rate, and " +
        'the spend through the period (at most 48 points). A team-scoped token sees its teams’ budgets only.',
      access: { kind: 'roles', roles: ['finance', 'admin'] },
      query: noQuerySchema,
      response: { status: 200, description: 'The forecasts, by budget name.', schema: 'BudgetForecastList' },
      handle: ({ caller, nowMs }) => {
        const scope = scopeOf(caller);
        const budgets = store.budgets.list().filter((b) => budgetInScope(scope, b.scope));
        const ledger =
          budgets.length === 0
            ? { agents: [], usage: [] }
            : store.ledger.overlapping(budgetLedgerFromMs(budgets, nowMs), nowMs + 1);
        const forecasts = budgetForecasts(budgets, ledger, nowMs).map((f): BudgetForecastView => ({
          id: f.budget.id,
          name: f.budget.name,
          scope: f.budget.scope,
          period: f.budget.period,
          capUsd: microsToUsd(f.budget.capMicros),
          fromMs: f.window.fromMs,
          toMs: f.window.toMs,
          spentUsd: microsToUsd(f.spentMicros),
          ratePerHourUsd: microsToUsd(f.ratePerHourMicros),
          forecastUsd: microsToUsd(f.forecastMicros),
          overCap: f.forecastMicros > f.budget.capMicros,
          series: f.series.map((p) => ({ atMs: p.atMs, spentUsd: microsToUsd(p.spentMicros) })),
        }));
        return { body: { forecasts } };
      },
    }),
  ];
}

/** `last` within the resolution's reach; ValidationError on `query.last` past it. */
function checkedLast(resolution: HistoryResolution, last: number | undefined): number | undefined {
  const reach = HISTORY_RESOLUTIONS[resolution].buckets;
  if (last !== undefined && last > reach) {
    throw new ValidationError('query.last', `must be at most ${reach} for resolution ${resolution}`);
  }
  return last;
}

/** A scoped caller's spend on an agent within a window: the cloud charges attributed to owners inside its scope. */
function scopedSpend(
  usage: readonly UsageInterval[],
  scope: TeamScope,
  nowMs: number,
): (agent: AgentInterval, window: TimeWindow) => Micros {
  const byAgent = usageByAgent(usage);
  return (agent, window) =>
    attributeAgent(agent, byAgent.get(agent.agentId) ?? [], window, nowMs, agent.pricePerHourMicros)
      .filter((charge) => CLOUD_CATEGORIES.has(charge.category) && scopeAllows(scope, charge.owner))
      .reduce((sum, charge) => sum + charge.micros, 0);
}
