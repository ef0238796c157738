import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { actorOf, defineRoute, type Route, type RouteDeps } from '../route.ts';
import { emptyBodySchema } from '../schemas.ts';

/** POST /v1/providers/{name}/retry. */
export function providerRoutes({ store, isLeader, providers }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/providers/{name}/retry',
      summary:
        "Close a provider's launch breakers after fixing what it refused (a subnet, a template, credentials), so the " +
        'next pass launches there again instead of waiting for the backoff (audited). `name` is the provider id ' +
        '(`aws-ec2:us-east-1`) or the part after its kind. 409 on a process that does not lead.',
      access: { kind: 'roles', roles: ['admin'] },
      body: emptyBodySchema,
      response: { status: 200, description: 'The provider and how many breakers were closed.', schema: 'ProviderRetry' },
      handle: async ({ params, caller, nowMs }) => {
        const name = params.name ?? '';
        if (!providers || !providers.ids().some((id) => id === name || id.split(':').slice(1).join(':') === name)) {
          throw new NotFoundError(`retrying provider ${name}: no such provider`);
        }
        if (!isLeader()) {
          throw new ConflictError(`retrying provider ${name}: this process does not lead; ask the leader`);
        }
        const actor = actorOf(caller);
        const answer = await providers.retry(name, actor);
        await store.audit.append({ atMs: nowMs, actor, action: 'provider.retry', detail: answer });
        return { body: answer };
      },
    }),
  ];
}
