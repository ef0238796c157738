import { defineRoute, type Route, type RouteDeps } from '../route.ts';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor } from '../paging.ts';
import { auditQuerySchema } from '../schemas.ts';

/** GET /v1/audit. */
export function auditRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/audit',
      summary: 'The audit log of policy, budget and token changes, newest first.',
      access: { kind: 'roles', roles: ['admin'] },
      query: auditQuerySchema,
      response: { status: 200, description: 'The entries.', schema: 'AuditList' },
      handle: async ({ query }) => {
        const limit = query.limit ?? DEFAULT_PAGE_SIZE;
        const [beforeId] = query.cursor === undefined ? [] : decodeCursor('audit', query.cursor, 1);
        // One more than the page, to know whether another follows.
        const entries = await store.audit.list(limit + 1, beforeId);
        const page = entries.slice(0, limit);
        const last = page.at(-1);
        const next = entries.length > limit && last !== undefined ? encodeCursor('audit', [last.id]) : null;
        return { body: { entries: page, next } };
      },
    }),
  ];
}
