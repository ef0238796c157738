import type { Intent } from '../../core/intent.ts';
import { microsToUsd } from '../../core/money.ts';
import { scopeAllows, type TeamScope } from '../../core/team-scope.ts';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor } from '../paging.ts';
import { defineRoute, scopeOf, type Route, type RouteDeps } from '../route.ts';
import { pageQuerySchema } from '../schemas.ts';
import type { DecisionView } from '../types.ts';

/** GET /v1/decisions. */
export function decisionRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/decisions',
      summary:
        'Recent launch and terminate decisions, newest first, each with the reason the controller wrote before the ' +
        'cloud call, its state and its error. A team-scoped token sees only launches made (partly) for its teams, ' +
        'with only their owners; a page may then hold fewer than `limit` decisions and still name a `next`.',
      access: { kind: 'roles', roles: ['admin', 'submitter', 'finance'] },
      query: pageQuerySchema,
      response: { status: 200, description: 'The decisions.', schema: 'DecisionList' },
      handle: async ({ query, caller }) => {
        const [createdAtMs, seq] = query.cursor === undefined ? [] : decodeCursor('decisions', query.cursor, 2);
        const page = await store.intents.recent(
          query.limit ?? DEFAULT_PAGE_SIZE,
          createdAtMs === undefined || seq === undefined ? undefined : { createdAtMs, seq },
        );
        const scope = scopeOf(caller);
        const decisions = page.intents.flatMap((intent) => {
          const view = decisionView(intent, scope);
          return view === undefined ? [] : [view];
        });
        const next = page.next === null ? null : encodeCursor('decisions', [page.next.createdAtMs, page.next.seq]);
        return { body: { decisions, next } };
      },
    }),
  ];
}

/** The decision as a caller of `scope` may see it; undefined when it is none of the scope's business. */
function decisionView(intent: Intent, scope: TeamScope | undefined): DecisionView | undefined {
  const common = {
    id: intent.id,
    kind: intent.kind,
    providerId: intent.providerId,
    state: intent.state,
    reason: intent.reason,
    instanceIds: intent.instanceIds,
    attempts: intent.attempts,
    error: intent.error,
    createdAtMs: intent.createdAtMs,
    updatedAtMs: intent.updatedAtMs,
  };
  if (intent.kind === 'terminate') return scope === undefined ? common : undefined;
  const owners = intent.owners.filter((o) => scopeAllows(scope, o.owner));
  if (owners.length === 0 && scope !== undefined) return undefined;
  const { offering } = intent;
  return {
    ...common,
    count: intent.count,
    offering: {
      zone: offering.zone,
      instanceType: offering.instanceType,
      lifecycle: offering.lifecycle,
      pricePerHourUsd: microsToUsd(offering.pricePerHourMicros),
    },
    owners: owners.map((o) => ({ ...o.owner, share: o.share })),
  };
}
