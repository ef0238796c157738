import { actorOf, defineRoute, type Caller, type Route, type RouteDeps } from '../route.ts';
import { emptyBodySchema, policySchema } from '../schemas.ts';
import type { AsyncStore } from '../../store/async-store.ts';

/** GET and PUT /v1/policy, POST /v1/pause and /v1/resume. Every change is audited with the caller as actor. */
export function policyAndPauseRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/policy',
      summary: 'The burst policy in force.',
      access: { kind: 'roles', roles: ['admin', 'submitter', 'finance'] },
      response: { status: 200, description: 'The policy.', schema: 'Policy' },
      handle: async () => ({ body: await store.policy.get() }),
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
      handle: async ({ body, caller, nowMs }) => ({
        // One transaction from reading the switch to writing it back: a pause made meanwhile is never lost.
        body: await store.transaction(async () => {
          const { paused } = await store.policy.get();
          await store.policy.set({ ...body, paused }, actorOf(caller), nowMs);
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
      handle: async ({ caller, nowMs }) => ({ body: await setPaused(store, true, caller, nowMs) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/resume',
      summary: 'Lift the pause (audited).',
      access: { kind: 'roles', roles: ['admin'] },
      body: emptyBodySchema,
      response: { status: 200, description: 'Whether launches are paused now.', schema: 'Paused' },
      wakes: () => true,
      handle: async ({ caller, nowMs }) => ({ body: await setPaused(store, false, caller, nowMs) }),
    }),
  ];
}

/** Pausing goes through the same audited policy write as PUT /v1/policy; the entry's policy shows the switch. */
async function setPaused(
  store: AsyncStore,
  paused: boolean,
  caller: Caller,
  nowMs: number,
): Promise<{ paused: boolean }> {
  return store.transaction(async () => {
    await store.policy.set({ ...(await store.policy.get()), paused }, actorOf(caller), nowMs);
    return { paused: (await store.policy.get()).paused };
  });
}
