import type { Micros } from '../../core/money.ts';
import { microsToUsd } from '../../core/money.ts';
import { scopeAllows, type TeamScope } from '../../core/team-scope.ts';
import { attributeAgent, CLOUD_CATEGORIES } from '../../cost-model/attribution.ts';
import { budgetLedgerFromMs } from '../../cost-model/budget.ts';
import { budgetForecastSteps } from '../../cost-model/budget-forecast.ts';
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
  const cache = new Map<string, { atMs: number; body: Promise<unknown> }>();
  // A body may be a promise still being computed: callers asking meanwhile share it rather than computing again. A
  // computation that fails is not kept; every caller sharing it gets its error.
  const reuse = (key: string, nowMs: number, compute: () => Promise<unknown>): Promise<unknown> => {
    const hit = cache.get(key);
    if (hit !== undefined && nowMs >= hit.atMs && nowMs - hit.atMs < HISTORY_REUSE_MS) return hit.body;
    const body = compute();
    if (cache.size >= HISTORY_CACHE_ENTRIES) cache.clear();
    const entry = { atMs: nowMs, body };
    cache.set(key, entry);
    body.catch(() => {
      if (cache.get(key) === entry) cache.delete(key);
    });
    return body;
  };
  // The runs are read only for a scoped caller's spend: the pool and the whole bill need the agents alone.
  const ledgerFor = async (
    resolution: HistoryResolution,
    nowMs: number,
    last: number | undefined,
    agentsOnly: boolean,
  ) =>
    store.ledger.overlapping(historyWindow(resolution, nowMs, last).window.fromMs, nowMs + 1, { agentsOnly });
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
      handle: async ({ query, nowMs }) => {
        const resolution = query.resolution ?? 'minute';
        const last = checkedLast(resolution, query.last);
        const body = reuse(`pool:${resolution}:${last ?? ''}`, nowMs, async (): Promise<PoolHistory> => {
          const { window, bucketMs, buckets } = poolSizes(
            (await ledgerFor(resolution, nowMs, last, true)).agents,
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
        return { body: await body };
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
      handle: async ({ query, caller, nowMs }) => {
        const resolution = query.resolution ?? 'hour';
        const last = checkedLast(resolution, query.last);
        const scope = scopeOf(caller);
        const key = `spend:${resolution}:${last ?? ''}:${scope === undefined ? '*' : JSON.stringify(scope)}`;
        const body = reuse(key, nowMs, async (): Promise<SpendHistory> => {
          const ledger = await ledgerFor(resolution, nowMs, last, scope === undefined);
          const { window, bucketMs, buckets } =
            scope === undefined
              ? cloudSpend(ledger.agents, resolution, nowMs, undefined, last)
              : await cloudSpendYielding(ledger, scope, resolution, nowMs, last);
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
        return { body: await body };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/budgets/forecasts',
      summary:
        "Each budget's spend in its current period with a forecast to the period's end at the last hour's rate, and " +
        'the spend through the period (at most 48 points). A team-scoped token sees its teams’ budgets only. An ' +
        `answer may be up to ${HISTORY_REUSE_MS / 1000} s old (a budget set or deleted shows at once).`,
      access: { kind: 'roles', roles: ['finance', 'admin'] },
      query: noQuerySchema,
      response: { status: 200, description: 'The forecasts, by budget name.', schema: 'BudgetForecastList' },
      handle: async ({ caller, nowMs }) => {
        const scope = scopeOf(caller);
        const budgets = (await store.budgets.list()).filter((b) => budgetInScope(scope, b.scope));
        // The budgets are part of the key: a budget set or deleted is seen at once.
        const key = `forecasts:${scope === undefined ? '*' : JSON.stringify(scope)}:${JSON.stringify(budgets)}`;
        const body = reuse(key, nowMs, async () => {
          const ledger =
            budgets.length === 0
              ? { agents: [], usage: [] }
              : await store.ledger.overlapping(budgetLedgerFromMs(budgets, nowMs), nowMs + 1);
          const computed = await drainYielding(budgetForecastSteps(budgets, ledger, nowMs));
          const forecasts = computed.map((f): BudgetForecastView => ({
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
          return { forecasts };
        });
        return { body: await body };
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

/** How long the scoped spend and the forecasts compute before they let the event loop serve other requests. */
const HISTORY_SLICE_MS = 10;

/** Runs `steps` to its end, yielding to the event loop every HISTORY_SLICE_MS; its return value. */
async function drainYielding<T>(steps: Generator<void, T, void>): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (performance.now() - sliceStart >= HISTORY_SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/**
 * `cloudSpend` for a scoped caller, whose attribution per agent and bucket costs far more than a bill: computed over
 * a few agents at a time, yielding to the event loop every HISTORY_SLICE_MS, so one caller asking for a day of minutes
 * over a large ledger does not stall every other request (and the control loop) until it is done. The buckets' sums
 * are those of one `cloudSpend` over all the agents.
 */
async function cloudSpendYielding(
  ledger: { agents: readonly AgentInterval[]; usage: readonly UsageInterval[] },
  scope: TeamScope,
  resolution: HistoryResolution,
  nowMs: number,
  last: number | undefined,
): Promise<ReturnType<typeof cloudSpend>> {
  const billed = scopedSpend(ledger.usage, scope, nowMs);
  const total = cloudSpend([], resolution, nowMs, billed, last);
  let sliceStart = performance.now();
  for (const agent of ledger.agents) {
    const part = cloudSpend([agent], resolution, nowMs, billed, last);
    part.buckets.forEach((bucket, i) => {
      const into = total.buckets[i]?.micros;
      if (into !== undefined) for (const [key, micros] of bucket.micros) into.set(key, (into.get(key) ?? 0) + micros);
    });
    if (performance.now() - sliceStart >= HISTORY_SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return total;
}

/**
 * A scoped caller's spend on an agent within a window: the cloud charges attributed to owners inside its scope. Each
 * call hands the attribution only the agent's runs that overlap the window (found by binary search over the runs
 * sorted by start, with the running maximum of their ends), not all of them: the same answer, since the attribution
 * ignores runs outside its window, but linear in the runs plus the buckets rather than their product (a day of
 * minutes over an agent with a few hundred runs otherwise held the event loop for seconds).
 */
function scopedSpend(
  usage: readonly UsageInterval[],
  scope: TeamScope,
  nowMs: number,
): (agent: AgentInterval, window: TimeWindow) => Micros {
  const byAgent = new Map<string, { runs: UsageInterval[]; maxEndTo: number[] }>();
  for (const [agentId, runs] of usageByAgent(usage)) {
    let maxEnd = -Infinity;
    byAgent.set(agentId, { runs, maxEndTo: runs.map((u) => (maxEnd = Math.max(maxEnd, u.endMs ?? Infinity))) });
  }
  return (agent, window) =>
    attributeAgent(agent, runsWithin(byAgent.get(agent.agentId), window), window, nowMs, agent.pricePerHourMicros)
      .filter((charge) => CLOUD_CATEGORIES.has(charge.category) && scopeAllows(scope, charge.owner))
      .reduce((sum, charge) => sum + charge.micros, 0);
}

/** The runs (sorted by start; `maxEndTo[i]` the latest end among the first i + 1) that overlap `window`. */
function runsWithin(
  sorted: { runs: readonly UsageInterval[]; maxEndTo: readonly number[] } | undefined,
  window: TimeWindow,
): UsageInterval[] {
  if (sorted === undefined) return [];
  const { runs, maxEndTo } = sorted;
  // Runs before `first` all ended by the window's start; runs from `end` on start at or after its end.
  const first = firstIndex(runs.length, (i) => (maxEndTo[i] ?? Infinity) > window.fromMs);
  const end = firstIndex(runs.length, (i) => (runs[i]?.startMs ?? Infinity) >= window.toMs);
  const within: UsageInterval[] = [];
  for (let i = first; i < end; i += 1) {
    const run = runs[i];
    if (run !== undefined && (run.endMs ?? Infinity) > window.fromMs) within.push(run);
  }
  return within;
}

/** The least index in [0, length) where the monotone `holds` becomes true; `length` when it never does. */
function firstIndex(length: number, holds: (i: number) => boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (holds(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
