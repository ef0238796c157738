import { readFileSync } from 'node:fs';
import { ConflictError, NotFoundError, SpillwayError } from '../../core/errors.ts';
import { defineRoute, type Route, type RouteDeps } from '../route.ts';

/**
 * Slurm mode's agent route: a cloud node fetches the cluster's munge key with its own agent credential (never from
 * its user data). Only a registered cloud agent gets it; 404 when Slurm is not the pool.
 */
export function slurmRoutes({ store, slurmMungeKeyFile }: RouteDeps): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/agents/{id}/slurm/munge-key',
      summary: "A Slurm cloud node's munge key, for its own agent credential only.",
      access: { kind: 'own-agent' },
      response: { status: 200, description: 'The munge key, base64.', schema: 'MungeKey' },
      handle: async ({ params }) => {
        if (!slurmMungeKeyFile) throw new NotFoundError("fetching the munge key: Slurm is not this controller's pool");
        const agent = await store.agents.get(params.id ?? '');
        if (!agent) throw new NotFoundError(`fetching the munge key: no agent ${params.id ?? ''}`);
        if (agent.location.kind !== 'cloud' || agent.state !== 'registered') {
          throw new ConflictError(`fetching the munge key: agent ${agent.id} is not a registered cloud agent`);
        }
        let key: Buffer;
        try {
          key = readFileSync(slurmMungeKeyFile);
        } catch (err) {
          throw new SpillwayError(`fetching the munge key: cannot read the key file: ${(err as Error).message}`);
        }
        return { body: { key: key.toString('base64') } };
      },
    }),
  ];
}
