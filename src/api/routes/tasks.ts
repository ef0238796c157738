import type { z } from 'zod';
import { AccessError, NotFoundError } from '../../core/errors.ts';
import { DEFAULT_OWNER } from '../../core/owner.ts';
import type { Task } from '../../core/task.ts';
import { describeTeamScope, scopeAllows, type TeamScope } from '../../core/team-scope.ts';
import type { AsyncStore } from '../../store/async-store.ts';
import type { NewTask } from '../../store/store.ts';
import { checkPayloads, checkPendingQuota } from '../admission.ts';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor } from '../paging.ts';
import { actorOf, defineRoute, scopeOf, type Route, type RouteDeps } from '../route.ts';
import { emptyBodySchema, submitSchema, tasksQuerySchema, type taskSpecSchema } from '../schemas.ts';

/** POST /v1/tasks, GET /v1/tasks, GET /v1/tasks/{id}, POST /v1/tasks/{id}/cancel. */
export function taskRoutes({ store, maxTaskPayloadBytes }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/tasks',
      summary: 'Submit 1 to 1,000 tasks, all accepted or none.',
      access: { kind: 'roles', roles: ['submitter', 'admin'] },
      body: submitSchema,
      response: { status: 201, description: 'The tasks as stored, pending.', schema: 'TaskList' },
      wakes: () => true,
      handle: async ({ body, caller, nowMs }) => {
        const scope = scopeOf(caller);
        const tasks = body.tasks.map(toNewTask);
        tasks.forEach((task, index) => checkSubmitScope(scope, task, index));
        checkPayloads(tasks, maxTaskPayloadBytes);
        const inserted = await store.transaction(async () => {
          await checkPendingQuota(store, tasks, (await store.policy.get()).limits.maxPendingPerTeam);
          const stored = await store.tasks.insert(tasks, nowMs);
          await store.audit.append({
            atMs: nowMs,
            actor: actorOf(caller),
            action: 'task.submit',
            detail: { count: stored.length, teams: [...new Set(stored.map((t) => t.owner.team))].sort() },
          });
          return stored;
        });
        return { status: 201, body: { tasks: inserted } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/tasks',
      summary:
        'List tasks, newest first, filtered by state (a,b), team and project; pages of `limit` (default 100, at most 1,000), `next` is the cursor of the following page.',
      access: { kind: 'roles', roles: ['submitter', 'admin', 'finance'] },
      query: tasksQuerySchema,
      response: { status: 200, description: 'The tasks.', schema: 'TaskList' },
      handle: async ({ query, caller }) => {
        const [createdAtMs, seq] = query.cursor === undefined ? [] : decodeCursor('tasks', query.cursor, 2);
        const page = await store.tasks.page({
          ...scopeFilter(scopeOf(caller)),
          ...(query.state && { states: query.state }),
          ...(query.team && { team: query.team }),
          ...(query.project && { project: query.project }),
          ...(createdAtMs !== undefined && seq !== undefined && { after: { createdAtMs, seq } }),
          limit: query.limit ?? DEFAULT_PAGE_SIZE,
        });
        const next = page.next === null ? null : encodeCursor('tasks', [page.next.createdAtMs, page.next.seq]);
        return { body: { tasks: page.tasks, next } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/tasks/{id}',
      summary: 'Get one task.',
      access: { kind: 'roles', roles: ['submitter', 'admin', 'finance'] },
      response: { status: 200, description: 'The task.', schema: 'Task' },
      handle: async ({ params, caller }) => ({ body: await requireTask(store, params.id ?? '', scopeOf(caller)) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/tasks/{id}/cancel',
      summary: 'Cancel a task that has not finished.',
      access: { kind: 'roles', roles: ['submitter', 'admin'] },
      body: emptyBodySchema,
      response: { status: 200, description: 'The cancelled task.', schema: 'Task' },
      // A running task's room is free again.
      wakes: () => true,
      handle: async ({ params, caller, nowMs }) => ({
        body: await store.transaction(async () => {
          const task = await requireTask(store, params.id ?? '', scopeOf(caller));
          const cancelled = await store.tasks.cancel(task.id, `cancelled by ${actorOf(caller)}`, nowMs);
          await store.audit.append({
            atMs: nowMs,
            actor: actorOf(caller),
            action: 'task.cancel',
            detail: { id: task.id, team: task.owner.team, project: task.owner.project },
          });
          return cancelled;
        }),
      }),
    }),
  ];
}

/** A task outside the caller's scope is not found, exactly like one that does not exist: its existence must not leak. */
async function requireTask(store: AsyncStore, id: string, scope: TeamScope | undefined): Promise<Task> {
  const task = await store.tasks.get(id, scope);
  if (!task || !scopeAllows(scope, task.owner)) throw new NotFoundError(`finding task ${id}: no such task`);
  return task;
}

function scopeFilter(scope: TeamScope | undefined): { scope?: TeamScope } {
  return scope === undefined ? {} : { scope };
}

/** A scoped submitter submits only for its teams (and projects): 403 naming the first task that is not. */
function checkSubmitScope(scope: TeamScope | undefined, task: NewTask, index: number): void {
  if (scopeAllows(scope, task.owner) || scope === undefined) return;
  const field = scope.teams.includes(task.owner.team) ? 'project' : 'team';
  throw new AccessError(
    403,
    `tasks.${index}.owner.${field}: this token acts for ${describeTeamScope(scope)}; ` +
      `it may not submit for team ${task.owner.team}, project ${task.owner.project}`,
  );
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
