import { NotFoundError } from '../../core/errors.ts';
import { defineRoute, type Route, type RouteDeps } from '../route.ts';
import type { Health } from '../types.ts';

/** GET /healthz, GET /metrics and GET /v1/openapi.json: public, no token. */
export function serviceRoutes({ store, metrics, isLeader, version }: RouteDeps, openApi: () => unknown): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/healthz',
      summary: 'Liveness, leadership and version; 503 when the store does not answer.',
      access: { kind: 'public' },
      response: { status: 200, description: 'The health.', schema: 'Health' },
      handle: async () => {
        const health: Health = { ok: await storeAnswers(store), leader: isLeader(), version };
        return { status: health.ok ? 200 : 503, body: health };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics.',
      access: { kind: 'public' },
      response: { status: 200, description: 'Prometheus text exposition.', contentType: 'text/plain' },
      handle: async () => {
        const { text, contentType } = await metrics.exposition();
        return { body: text, contentType };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/openapi.json',
      summary: 'This OpenAPI document.',
      access: { kind: 'public' },
      response: { status: 200, description: 'The OpenAPI 3.1 document.', contentType: 'application/json' },
      handle: () => ({ body: openApi() }),
    }),
  ];
}

/**
 * Whether the store answers a read: one row by its key, the same cost at any store size (a liveness probe is asked
 * often, and must not stall behind a scan of every task). An unbound store answered too.
 */
async function storeAnswers(store: RouteDeps['store']): Promise<boolean> {
  try {
    await store.meta.clusterId();
    return true;
  } catch (err) {
    return err instanceof NotFoundError;
  }
}
