import { microsToUsd } from '../../core/money.ts';
import { budgetLedgerFromMs } from '../../cost-model/budget.ts';
import { budgetForecasts } from '../../cost-model/budget-forecast.ts';
import { poolHistory } from '../../cost-model/pool-history.ts';
import type { Micros } from '../../core/money.ts';
import { scopeAllows, type TeamScope } from '../../core/team-scope.ts';
import { attributeAgent, CLOUD_CATEGORIES } from '../../cost-model/attribution.ts';
import { usageByAgent, type AgentInterval, type TimeWindow, type UsageInterval } from '../../cost-model/ledger.ts';
import { locationKey } from '../status.ts';
import { defineRoute, scopeOf, type Route, type RouteDeps } from '../route.ts';
import { historyQuerySchema, noQuerySchema } from '../schemas.ts';
import type { BudgetForecastView, PoolHistory } from '../types.ts';
import { budgetInScope } from './budgets.ts';

/** GET /v1/history/pool and GET /v1/budgets/forecasts: what the console charts, read from the ledger. */
export function historyRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/history/pool',
      summary:
        'The pool by location (agents and CPUs present in each bucket) and the cloud spend by provider, over time: ' +
        '`resolution` `minute` (default) covers the last 24 hours, `hour` 30 days, `day` 90 days. Read from the cost ' +
        'ledger, buckets aligned to UTC. For a team-scoped token the spend is its teams’ share only (by the ' +
        'chargeback attribution rule), as the pool itself is everyone’s.',
      access: { kind: 'roles', roles: ['admin', 'submitter', 'finance'] },
      query: historyQuerySchema,
      response: { status: 200, description: 'The history, oldest bucket first.', schema: 'PoolHistory' },
      handle: ({ query, caller, nowMs }) => {
        const resolution = query.resolution ?? 'minute';
        const probe = poolHistory([], resolution, nowMs, () => '');
        const ledger = store.ledger.overlapping(probe.window.fromMs, nowMs + 1);
        const scope = scopeOf(caller);
        const { window, bucketMs, buckets } = poolHistory(
          ledger.agents,
          resolution,
          nowMs,
          locationKey,
          scope === undefined ? undefined : scopedSpend(ledger.usage, scope, nowMs),
        );
        const body: PoolHistory = {
          resolution,
          bucketMs,
          fromMs: window.fromMs,
          toMs: window.toMs,
          points: buckets.map((b) => ({
            atMs: b.fromMs,
            locations: Object.fromEntries(
              [...b.locations].map(([key, v]) => [key, { agents: v.agents, cpus: v.cpuMillis / 1000 }]),
            ),
            cloudSpendUsd: Object.fromEntries([...b.cloudMicros].map(([key, micros]) => [key, microsToUsd(micros)])),
          })),
        };
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
