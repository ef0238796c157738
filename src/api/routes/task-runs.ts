import { NotFoundError } from '../../core/errors.ts';
import { defineRoute, scopeOf, type Route, type RouteDeps } from '../route.ts';

/** GET /v1/tasks/{id}/runs: a task's history on agents, from the cost ledger. */
export function taskRunRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/tasks/{id}/runs',
      summary:
        'The runs of one task, oldest first: on which agent each ran, from when until when (null while it runs). A ' +
        'task of another team is a 404 for a team-scoped token.',
      access: { kind: 'roles', roles: ['submitter', 'admin', 'finance'] },
      response: { status: 200, description: 'The runs.', schema: 'TaskRunList' },
      handle: async ({ params, caller }) => {
        const id = params.id ?? '';
        if ((await store.tasks.get(id, scopeOf(caller))) === undefined) {
          throw new NotFoundError(`reading the runs of task ${id}: there is no such task`);
        }
        const runs = (await store.ledger.usageOf(id)).map((run) => ({
          agentId: run.agentId,
          startMs: run.startMs,
          endMs: run.endMs,
        }));
        return { body: { runs } };
      },
    }),
  ];
}
