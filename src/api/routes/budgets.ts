import { budgetNameSchema, toBudgetSpec } from '../../config/budget-schema.ts';
import { parseWith } from '../../config/validate.ts';
import { AccessError, NotFoundError } from '../../core/errors.ts';
import { describeTeamScope, scopeAllows, type TeamScope } from '../../core/team-scope.ts';
import { microsToUsd } from '../../core/money.ts';
import type { BudgetAlert } from '../../cost-model/budget-alerts.ts';
import { budgetLedgerFromMs, describeScope, type Budget, type BudgetScope } from '../../cost-model/budget.ts';
import { budgetSpend } from '../../cost-model/budget-spend.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import { actorOf, defineRoute, scopeOf, type Access, type Route, type RouteDeps } from '../route.ts';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor, pageOf } from '../paging.ts';
import { budgetAlertsQuerySchema, budgetBodySchema, pageQuerySchema } from '../schemas.ts';
import type { BudgetAlertView, BudgetView } from '../types.ts';

const FINANCE: Access = { kind: 'roles', roles: ['finance', 'admin'] };
/** Alerts read per query while filtering a scoped reader's page, and at most per request. */
const ALERT_BATCH = 500;
export const MAX_ALERTS_SCANNED = 5_000;

/**
 * GET /v1/budgets, GET, PUT and DELETE /v1/budgets/{id} (a budget's id or name), GET /v1/budgets/alerts. Changes are
 * audited with the caller as actor. Every budget comes with its spend in its current window.
 */
export function budgetRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/budgets',
      summary: 'List budgets by name, each with its spend in its current period.',
      access: FINANCE,
      response: { status: 200, description: 'The budgets.', schema: 'BudgetList' },
      query: pageQuerySchema,
      handle: async ({ query, caller, nowMs }) => {
        const scope = scopeOf(caller);
        const budgets = (await store.budgets.list()).filter((budget) => budgetInScope(scope, budget.scope));
        // Spend is computed for the page's budgets only.
        const page = pageOf('budgets', budgets, query);
        return { body: { budgets: await viewsOf(store, page.items, nowMs), next: page.next } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/budgets/alerts',
      summary: 'The 50, 80 and 100 percent alerts budgets raised, newest first (once per budget, period and level).',
      access: FINANCE,
      query: budgetAlertsQuerySchema,
      response: { status: 200, description: 'The alerts.', schema: 'BudgetAlertList' },
      handle: async ({ query, caller }) => {
        const scope = scopeOf(caller);
        const limit = query.limit ?? DEFAULT_PAGE_SIZE;
        const [beforeId] = query.cursor === undefined ? [] : decodeCursor('alerts', query.cursor, 1);
        // A scoped reader's alerts are filtered here. Other teams' alerts pile up (three per budget and period, hourly
        // for burn budgets), so one request reads at most MAX_ALERTS_SCANNED of them: a page may then hold fewer than
        // `limit` alerts and still name a `next`, where the reading goes on.
        const batchSize = Math.max(limit + 1, ALERT_BATCH);
        const visible: BudgetAlert[] = [];
        let from = beforeId;
        let scanned = 0;
        let resumeAt: number | undefined;
        for (;;) {
          const batch = await store.budgets.alerts(batchSize, from);
          visible.push(...batch.filter((alert) => budgetInScope(scope, alert.scope)));
          scanned += batch.length;
          const last = batch.at(-1);
          if (visible.length > limit || batch.length < batchSize || last === undefined) break;
          from = last.id;
          if (scanned >= MAX_ALERTS_SCANNED) {
            resumeAt = last.id;
            break;
          }
        }
        const page = visible.slice(0, limit);
        const lastShown = page.at(-1);
        const next =
          visible.length > limit && lastShown !== undefined
            ? encodeCursor('alerts', [lastShown.id])
            : resumeAt !== undefined
              ? encodeCursor('alerts', [resumeAt])
              : null;
        return { body: { alerts: page.map(alertView), next } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/budgets/{id}',
      summary: 'One budget, by id or name, with its spend in its current period.',
      access: FINANCE,
      response: { status: 200, description: 'The budget.', schema: 'Budget' },
      handle: async ({ params, caller, nowMs }) => ({
        body: (await viewsOf(store, [await mustGet(store, params.id ?? '', 'reading', scopeOf(caller))], nowMs))[0],
      }),
    }),
    defineRoute({
      method: 'PUT',
      path: '/v1/budgets/{id}',
      summary:
        'Create the budget of this name, or replace the budget of this id or name (audited). `period` `burn` caps ' +
        'USD per hour over any trailing hour; `onCap` `preempt` (default) is a hard cap, `finish` a soft one.',
      access: FINANCE,
      body: budgetBodySchema,
      response: { status: 200, description: 'The budget now in force (201 when created).', schema: 'Budget' },
      handle: async ({ params, body, caller, nowMs }) => {
        const ref = params.id ?? '';
        const scope = scopeOf(caller);
        if (!budgetInScope(scope, body.scope) && scope !== undefined) {
          throw new AccessError(
            403,
            `scope: this token acts for ${describeTeamScope(scope)}; it may not set a budget on ${describeScope(body.scope)}`,
          );
        }
        return store.transaction(async () => {
          const existing = await store.budgets.get(ref);
          if (existing !== undefined && !budgetInScope(scope, existing.scope)) {
            throw new NotFoundError(`replacing budget ${ref}: there is no such budget`);
          }
          const name = existing?.name ?? parseWith(budgetNameSchema, ref, 'path.id');
          const { budget, created } = await store.budgets.set(toBudgetSpec(name, body), actorOf(caller), nowMs);
          return { status: created ? 201 : 200, body: (await viewsOf(store, [budget], nowMs))[0] };
        });
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/budgets/{id}',
      summary: 'Delete a budget by id or name (audited); its alerts are kept.',
      access: FINANCE,
      response: { status: 200, description: 'The deleted budget, with its spend at deletion.', schema: 'Budget' },
      handle: ({ params, caller, nowMs }) =>
        store.transaction(async () => {
          const budget = await mustGet(store, params.id ?? '', 'deleting', scopeOf(caller));
          await store.budgets.delete(budget.id, actorOf(caller), nowMs);
          return { body: (await viewsOf(store, [budget], nowMs))[0] };
        }),
    }),
  ];
}

/** A budget outside the caller's scope is not found, like one that does not exist. */
async function mustGet(
  store: AsyncStore,
  ref: string,
  doing: string,
  scope: TeamScope | undefined,
): Promise<Budget> {
  const budget = await store.budgets.get(ref);
  if (budget === undefined || !budgetInScope(scope, budget.scope)) {
    throw new NotFoundError(`${doing} budget ${ref}: there is no such budget`);
  }
  return budget;
}

/**
 * Whether a scoped finance token may see a budget: one on a team of its scope, or on a project of such a team (and of
 * its projects, when it names any). Global budgets and budgets on a project of any team span other teams: unscoped only.
 */
export function budgetInScope(scope: TeamScope | undefined, budgetScope: BudgetScope): boolean {
  if (scope === undefined) return true;
  switch (budgetScope.kind) {
    case 'global':
      return false;
    case 'team':
      return scope.projects === undefined && scope.teams.includes(budgetScope.team);
    case 'project':
      return (
        budgetScope.team !== undefined && scopeAllows(scope, { team: budgetScope.team, project: budgetScope.project })
      );
  }
}

/** Budgets with their spend now, read from one ledger slice that covers all their windows. */
async function viewsOf(store: AsyncStore, budgets: readonly Budget[], nowMs: number): Promise<BudgetView[]> {
  if (budgets.length === 0) return [];
  const ledger = await store.ledger.overlapping(budgetLedgerFromMs(budgets, nowMs), nowMs + 1);
  return budgetSpend(budgets, ledger, nowMs).map(({ budget, window, spentMicros, percent, overrunMicros }) => ({
    id: budget.id,
    name: budget.name,
    scope: budget.scope,
    period: budget.period,
    capUsd: microsToUsd(budget.capMicros),
    onCap: budget.onCap,
    createdAtMs: budget.createdAtMs,
    updatedAtMs: budget.updatedAtMs,
    status: {
      fromMs: window.fromMs,
      toMs: window.toMs,
      spentUsd: microsToUsd(spentMicros),
      percent: Math.round(percent * 100) / 100,
      overrunUsd: microsToUsd(overrunMicros),
    },
  }));
}

function alertView(alert: BudgetAlert): BudgetAlertView {
  const { spentMicros, capMicros, ...rest } = alert;
  return { ...rest, spentUsd: microsToUsd(spentMicros), capUsd: microsToUsd(capMicros) };
}
