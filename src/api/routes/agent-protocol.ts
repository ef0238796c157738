import { AccessError } from '../../core/errors.ts';
import type { RegistrationCaller } from '../../pool/builtin/registry.ts';
import { defineRoute, type Caller, type Route, type RouteDeps } from '../route.ts';
import { emptyBodySchema, heartbeatSchema, leaveSchema, registerSchema, reportSchema } from '../schemas.ts';

/**
 * The agent protocol (src/agent/protocol.ts): register, heartbeat, pull, report, leave. Authorization is checked by
 * the server (an agent's own token for its own routes); the registry does the rest.
 */
export function agentProtocolRoutes({ registry }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/agents/register',
      summary: 'Register an agent with a registration token (private) or a bootstrap credential (cloud).',
      access: { kind: 'register' },
      body: registerSchema,
      response: {
        status: 201,
        description: "The agent's id and its own token, shown once.",
        schema: 'RegisterResponse',
      },
      wakes: () => true,
      handle: async ({ body, caller, remoteAddress }) => ({
        status: 201,
        body: await registry.registerAttested(registrationCaller(caller), body, { address: remoteAddress ?? '' }),
      }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/agents/{id}/heartbeat',
      summary: 'Report liveness and running tasks; learn which tasks to stop.',
      access: { kind: 'own-agent' },
      body: heartbeatSchema,
      response: { status: 200, description: "The agent's state and the tasks to stop.", schema: 'HeartbeatResponse' },
      handle: async ({ params, body }) => ({ body: await registry.heartbeat(params.id ?? '', body) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/agents/{id}/pull',
      summary: 'Take the tasks placed on this agent.',
      access: { kind: 'own-agent' },
      body: emptyBodySchema,
      response: { status: 200, description: 'The tasks to run now.', schema: 'PullResponse' },
      handle: async ({ params }) => ({ body: await registry.pull(params.id ?? '') }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/agents/{id}/tasks/{taskId}/report',
      summary: "Report a task's output, exit, or hand it back.",
      access: { kind: 'own-agent' },
      body: reportSchema,
      response: { status: 200, description: "The task's state after the report.", schema: 'TaskStateAnswer' },
      // An exit or a handback frees room (and a handback returns the task to pending); output alone changes nothing.
      wakes: (body) => body.kind !== 'output',
      handle: async ({ params, body }) => ({
        body: await registry.report(params.id ?? '', params.taskId ?? '', body),
      }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/agents/{id}/leave',
      summary: 'Leave the pool cleanly; tasks return to pending.',
      access: { kind: 'own-agent' },
      body: leaveSchema,
      response: { status: 200, description: "The agent's state after leaving.", schema: 'AgentStateAnswer' },
      wakes: () => true,
      handle: async ({ params, body }) => ({ body: await registry.leave(params.id ?? '', body.reason) }),
    }),
  ];
}

function registrationCaller(caller: Caller): RegistrationCaller {
  if (caller.kind === 'anonymous')
    throw new AccessError(401, 'registering: send a registration token or a bootstrap credential');
  return caller;
}
