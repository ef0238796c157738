import { defineRoute, type Route, type RouteDeps } from '../route.ts';
import { auditQuerySchema } from '../schemas.ts';

/** Entries an audit listing returns when the query sets no limit. */
export const DEFAULT_AUDIT_LIMIT = 100;

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
      handle: ({ query }) => ({ body: { entries: store.audit.list(query.limit ?? DEFAULT_AUDIT_LIMIT) } }),
    }),
  ];
}
