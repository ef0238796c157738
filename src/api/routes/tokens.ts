import { hashToken, newApiToken } from '../../core/credentials.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { TeamScope } from '../../core/team-scope.ts';
import { actorOf, defineRoute, type Route, type RouteDeps } from '../route.ts';
import { pageOf } from '../paging.ts';
import { createTokenSchema, pageQuerySchema } from '../schemas.ts';
import type { RegistrationBounds } from '../../store/store.ts';
import type { CreateTokenRequest, CreateTokenResponse } from '../types.ts';

/**
 * POST, GET /v1/tokens and DELETE /v1/tokens/{id}. A token is shown once, when created; only its hash is stored.
 * An `agent` token made here is unbound: a registration token for private agents. Creations and revocations are
 * audited.
 */
export function tokenRoutes({ store }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/tokens',
      summary: 'Create a token; the answer is the only time it is shown.',
      access: { kind: 'roles', roles: ['admin'] },
      body: createTokenSchema,
      response: { status: 201, description: 'The new token.', schema: 'CreateTokenResponse' },
      handle: async ({ body, caller, nowMs }) => {
        const bounds = registrationBounds(body, nowMs);
        const token = newApiToken();
        const scope: TeamScope | undefined =
          body.teams === undefined
            ? undefined
            : { teams: [...new Set(body.teams)], ...(body.projects && { projects: [...new Set(body.projects)] }) };
        const record = await store.transaction(async () => {
          const created = await store.tokens.create(
            {
              id: newId('tok'),
              role: body.role,
              name: body.name,
              agentId: null,
              createdAtMs: nowMs,
              ...(scope && { scope }),
            },
            hashToken(token),
          );
          if (bounds) await store.registrations.setBounds(created.id, bounds);
          await store.audit.append({
            atMs: nowMs,
            actor: actorOf(caller),
            action: 'token.create',
            detail: {
              id: created.id,
              role: created.role,
              name: created.name,
              ...(bounds ? { bounds } : {}),
              ...(scope && { scope }),
            },
          });
          return created;
        });
        const answer: CreateTokenResponse = {
          id: record.id,
          role: record.role,
          name: record.name,
          token,
          ...(bounds?.maxAgents != null ? { maxAgents: bounds.maxAgents } : {}),
          ...(bounds?.site != null ? { site: bounds.site } : {}),
          ...(bounds?.expiresAtMs != null ? { expiresAtMs: bounds.expiresAtMs } : {}),
          ...(record.scope && { scope: record.scope }),
        };
        return { status: 201, body: answer };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/tokens',
      summary: 'List tokens (never their secrets).',
      access: { kind: 'roles', roles: ['admin'] },
      response: { status: 200, description: 'The tokens.', schema: 'TokenList' },
      query: pageQuerySchema,
      handle: async ({ query }) => {
        const page = pageOf('tokens', await store.tokens.list(), query);
        return { body: { tokens: page.items, next: page.next } };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/tokens/{id}',
      summary: 'Revoke a token (audited); revoking twice is not an error.',
      access: { kind: 'roles', roles: ['admin'] },
      response: { status: 200, description: 'The revoked token.', schema: 'TokenRecord' },
      handle: async ({ params, caller, nowMs }) => {
        const id = params.id ?? '';
        return {
          body: await store.transaction(async () => {
            if (!(await store.tokens.get(id))) throw new NotFoundError(`revoking token ${id}: no such token`);
            const revoked = await store.tokens.revoke(id, nowMs);
            await store.audit.append({
              atMs: nowMs,
              actor: actorOf(caller),
              action: 'token.revoke',
              detail: { id, name: revoked.name },
            });
            return revoked;
          }),
        };
      },
    }),
  ];
}

/**
 * A registration token's bounds from a create request, or undefined when it sets none. Bounds on any role but
 * `agent` are a ValidationError naming the first one given: only registration tokens register agents.
 */
function registrationBounds(body: CreateTokenRequest, nowMs: number): RegistrationBounds | undefined {
  const given = (['maxAgents', 'site', 'expiresInMs'] as const).filter((field) => body[field] !== undefined);
  if (given.length === 0) return undefined;
  if (body.role !== 'agent') {
    throw new ValidationError(
      given[0] ?? 'role',
      `only an agent registration token (role agent) can be bounded, not role ${body.role}`,
    );
  }
  return {
    maxAgents: body.maxAgents ?? null,
    site: body.site ?? null,
    expiresAtMs: body.expiresInMs === undefined ? null : nowMs + body.expiresInMs,
  };
}
