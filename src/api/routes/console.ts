import { makeSignInCode } from '../../console/session.ts';
import { AccessError } from '../../core/errors.ts';
import { defineRoute, type Route, type RouteDeps } from '../route.ts';
import { emptyBodySchema } from '../schemas.ts';

/** POST /v1/console/codes: a one-time sign-in link for the web console (`spillway console`). */
export function consoleRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/console/codes',
      summary:
        'A one-time code that opens a web console session acting with the calling token’s role and team scope: ' +
        'open `path` on this server within five minutes, once. Only the code’s hash is stored. A bearer token only: ' +
        'a console session may not make codes (it would outlive its expiry through them).',
      access: { kind: 'roles', roles: ['admin', 'submitter', 'finance'] },
      body: emptyBodySchema,
      response: { status: 201, description: 'The code and the path that uses it.', schema: 'ConsoleCode' },
      handle: async ({ caller, nowMs }) => {
        if (caller.kind !== 'token') throw new AccessError(401, 'making a sign-in code: send a bearer token');
        // A session making links would open sessions after it, each 12 hours more: it could outlive its expiry forever.
        if (caller.viaSession === true) {
          throw new AccessError(403, 'making a sign-in code: a console session cannot; send the bearer token');
        }
        const { code, expiresAtMs } = await makeSignInCode(store, caller.token, nowMs);
        return { status: 201, body: { code, expiresAtMs, path: `/console/signin?code=${code}` } };
      },
    }),
  ];
}
