import { hashToken, isBootstrapCredential } from '../core/credentials.ts';
import { AccessError } from '../core/errors.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { TokenRecord } from '../store/store.ts';
import type { Access, Caller } from './route.ts';

/**
 * Authenticates and authorizes one request. `what` names the call for messages (`POST /v1/tasks`). Resolves with the
 * caller, or rejects with AccessError: 401 when there is no usable credential (missing, unknown, revoked, or a bootstrap
 * credential anywhere but registration), 403 when the credential may not make this call. Tokens are looked up by
 * their SHA-256 hash and never appear in a message.
 */
export async function authenticate(
  store: AsyncStore,
  authorization: string | undefined,
  access: Access,
  params: Readonly<Record<string, string>>,
  what: string,
): Promise<Caller> {
  if (access.kind === 'public') return { kind: 'anonymous' };
  const secret = bearer(authorization);
  if (isBootstrapCredential(secret)) {
    if (access.kind === 'register') return { kind: 'bootstrap', credential: secret };
    throw new AccessError(401, 'authenticating: a bootstrap credential is accepted only by POST /v1/agents/register');
  }
  const token = await store.tokens.byHash(hashToken(secret));
  if (!token) throw new AccessError(401, 'authenticating: the bearer token is not known');
  if (token.revokedAtMs !== null) throw new AccessError(401, 'authenticating: the bearer token was revoked');
  authorize(token, access, params, what);
  return { kind: 'token', token };
}

/**
 * Authorizes one request of a web console session, which acts as the (unrevoked) token that started it. Public routes
 * see an anonymous caller, like bearer requests do. Throws AccessError 403 when the token may not make this call.
 */
export function authenticateSession(
  token: TokenRecord,
  access: Access,
  params: Readonly<Record<string, string>>,
  what: string,
): Caller {
  if (access.kind === 'public') return { kind: 'anonymous' };
  authorize(token, access, params, what);
  return { kind: 'token', token, viaSession: true };
}

function bearer(authorization: string | undefined): string {
  if (!authorization) throw new AccessError(401, 'authenticating: send an Authorization: Bearer <token> header');
  const match = /^Bearer[ \t]+(\S+)$/i.exec(authorization.trim());
  if (!match?.[1])
    throw new AccessError(401, 'authenticating: the Authorization header is not of the form Bearer <token>');
  return match[1];
}

function authorize(
  token: TokenRecord,
  access: Exclude<Access, { kind: 'public' }>,
  params: Readonly<Record<string, string>>,
  what: string,
): void {
  switch (access.kind) {
    case 'roles':
      if (!(access.roles as readonly string[]).includes(token.role)) {
        throw new AccessError(
          403,
          `calling ${what}: role ${token.role} may not; allowed roles: ${access.roles.join(', ')}`,
        );
      }
      return;
    case 'own-agent':
      if (token.role !== 'agent') {
        throw new AccessError(
          403,
          `calling ${what}: role ${token.role} may not; allowed roles: agent (its own routes only)`,
        );
      }
      if (token.agentId === null || token.agentId !== params.id) {
        throw new AccessError(
          403,
          `calling ${what}: an agent token may call only the routes of the agent it was issued to`,
        );
      }
      return;
    case 'register':
      if (token.role !== 'agent') {
        throw new AccessError(
          403,
          `calling ${what}: role ${token.role} may not; allowed: an agent registration token or a bootstrap credential`,
        );
      }
      if (token.agentId !== null) {
        throw new AccessError(
          403,
          `calling ${what}: an agent's own token cannot register an agent; use a registration token`,
        );
      }
      return;
  }
}
