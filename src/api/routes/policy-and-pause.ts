import { actorOf, defineRoute, type Caller, type Route, type RouteDeps } from '../route.ts';
import { emptyBodySchema, policySchema } from '../schemas.ts';
import type { Store } from '../../store/store.ts';

/** GET and PUT /v1/policy, POST /v1/pause and /v1/resume. Every change is audited with the caller as actor. */
export function policyAndPauseRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/policy',
      summary: 'The burst policy in force.',
      access: { kind: 'roles', roles: ['admin', 'submitter', 'finance'] },
      response: { status: 200, description: 'The policy.', schema: 'Policy' },
      handle: () => ({ body: store.policy.get() }),
    }),
    defineRoute({
      method: 'PUT',
      path: '/v1/policy',
      summary:
        'Replace the whole policy (audited). The kill switch is kept as it is: `paused` in the body is ignored, and ' +
        'changes only through /v1/pause and /v1/resume, so applying a policy file never lifts a pause.',
      access: { kind: 'roles', roles: ['admin'] },
      body: policySchema.partial({ paused: true }),
      response: { status: 200, description: 'The policy now in force.', schema: 'Policy' },
      wakes: () => true,
      handle: ({ body, caller, nowMs }) => ({
        body: store.transaction(() => {
          store.policy.set({ ...body, paused: store.policy.get().paused }, actorOf(caller), nowMs);
          return store.policy.get();
        }),
      }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/pause',
      summary: 'Stop every launch at once (the kill switch; audited).',
      access: { kind: 'roles', roles: ['admin'] },
      body: emptyBodySchema,
      response: { status: 200, description: 'Whether launches are paused now.', schema: 'Paused' },
      handle: ({ caller, nowMs }) => ({ body: setPaused(store, true, caller, nowMs) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/resume',
      summary: 'Lift the pause (audited).',
      access: { kind: 'roles', roles: ['admin'] },
      body: emptyBodySchema,
      response: { status: 200, description: 'Whether launches are paused now.', schema: 'Paused' },
      wakes: () => true,
      handle: ({ caller, nowMs }) => ({ body: setPaused(store, false, caller, nowMs) }),
    }),
  ];
}

/** Pausing goes through the same audited policy write as PUT /v1/policy; the entry's policy shows the switch. */
function setPaused(store: Store, paused: boolean, caller: Caller, nowMs: number): { paused: boolean } {
  return store.transaction(() => {
    store.policy.set({ ...store.policy.get(), paused }, actorOf(caller), nowMs);
    return { paused: store.policy.get().paused };
  });
}
