import type { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { DEFAULT_OWNER } from '../../core/owner.ts';
import type { Task } from '../../core/task.ts';
import type { NewTask, Store } from '../../store/store.ts';
import { actorOf, defineRoute, type Route, type RouteDeps } from '../route.ts';
import { emptyBodySchema, submitSchema, tasksQuerySchema, type taskSpecSchema } from '../schemas.ts';

/** Tasks a listing returns when the query sets no limit. */
export const DEFAULT_TASK_LIST_LIMIT = 1_000;

/** POST /v1/tasks, GET /v1/tasks, GET /v1/tasks/{id}, POST /v1/tasks/{id}/cancel. */
export function taskRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/tasks',
      summary: 'Submit 1 to 1,000 tasks, all accepted or none.',
      access: { kind: 'roles', roles: ['submitter', 'admin'] },
      body: submitSchema,
      response: { status: 201, description: 'The tasks as stored, pending.', schema: 'TaskList' },
      handle: ({ body, nowMs }) => ({
        status: 201,
        body: { tasks: store.tasks.insert(body.tasks.map(toNewTask), nowMs) },
      }),
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/tasks',
      summary: 'List tasks, newest first, filtered by state (a,b), team and project.',
      access: { kind: 'roles', roles: ['submitter', 'admin', 'finance'] },
      query: tasksQuerySchema,
      response: { status: 200, description: 'The tasks.', schema: 'TaskList' },
      handle: ({ query }) => ({
        body: {
          tasks: store.tasks.list({
            ...(query.state && { states: query.state }),
            ...(query.team && { team: query.team }),
            ...(query.project && { project: query.project }),
            limit: query.limit ?? DEFAULT_TASK_LIST_LIMIT,
          }),
        },
      }),
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/tasks/{id}',
      summary: 'Get one task.',
      access: { kind: 'roles', roles: ['submitter', 'admin', 'finance'] },
      response: { status: 200, description: 'The task.', schema: 'Task' },
      handle: ({ params }) => ({ body: requireTask(store, params.id ?? '') }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/tasks/{id}/cancel',
      summary: 'Cancel a task that has not finished.',
      access: { kind: 'roles', roles: ['submitter', 'admin'] },
      body: emptyBodySchema,
      response: { status: 200, description: 'The cancelled task.', schema: 'Task' },
      handle: ({ params, caller, nowMs }) => ({
        body: store.transaction(() => {
          const task = requireTask(store, params.id ?? '');
          return store.tasks.cancel(task.id, `cancelled by ${actorOf(caller)}`, nowMs);
        }),
      }),
    }),
  ];
}

function requireTask(store: Store, id: string): Task {
  const task = store.tasks.get(id);
  if (!task) throw new NotFoundError(`finding task ${id}: no such task`);
  return task;
}

function toNewTask(spec: z.output<typeof taskSpecSchema>): NewTask {
  return {
    owner: {
      team: spec.owner?.team ?? DEFAULT_OWNER.team,
      project: spec.owner?.project ?? DEFAULT_OWNER.project,
      job: spec.owner?.job ?? DEFAULT_OWNER.job,
    },
    resources: {
      cpuMillis: spec.resources.cpu,
      memoryMiB: spec.resources.memory,
      gpus: spec.resources.gpus ?? 0,
      netMbps: spec.resources.netMbps ?? 0,
    },
    priority: spec.priority ?? 0,
    revocable: spec.revocable ?? false,
    constraints: spec.constraints ?? {},
    command: spec.command,
  };
}
