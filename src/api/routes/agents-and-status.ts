import { providerStatuses } from '../provider-status.ts';
import { buildStatus } from '../status.ts';
import { defineRoute, type Route, type RouteDeps } from '../route.ts';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor } from '../paging.ts';
import { agentsQuerySchema } from '../schemas.ts';

const READERS = ['admin', 'submitter', 'finance'] as const;

/** GET /v1/agents, GET /v1/status. */
export function agentsAndStatusRoutes({ store, isLeader, providers, liveAgents }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/agents',
      summary: 'List agents in record order, filtered by state (a,b); paged like every list.',
      access: { kind: 'roles', roles: READERS },
      query: agentsQuerySchema,
      response: { status: 200, description: 'The agents.', schema: 'AgentList' },
      handle: async ({ query }) => {
        const [after] = query.cursor === undefined ? [] : decodeCursor('agents', query.cursor, 1);
        const page = await store.agents.page({
          ...(query.state && { states: query.state }),
          limit: query.limit ?? DEFAULT_PAGE_SIZE,
          ...(after !== undefined && { after }),
        });
        return { body: { agents: page.agents, next: page.next === null ? null : encodeCursor('agents', [page.next]) } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/status',
      summary:
        "The pool by location, task counts, what the cloud costs per hour now, and each provider's health and open " +
        'launch breakers.',
      access: { kind: 'roles', roles: READERS },
      response: { status: 200, description: 'The status.', schema: 'Status' },
      handle: async ({ nowMs }) => {
        // The leader's model holds every live agent with its allocation: counted in memory, not read from the store.
        const leader = isLeader();
        const fromModel = leader ? liveAgents?.() : undefined;
        const providerList = providerStatuses(providers, leader, await store.intents.open());
        return { body: await buildStatus(store, nowMs, leader, providerList, fromModel) };
      },
    }),
  ];
}
