import type { Config } from '../config/schema.ts';
import { ValidationError } from '../core/errors.ts';
import { ec2IdentityVerifier } from './aws-ec2/ec2-identity.ts';
import { GceIdentityVerifier } from './gcp-compute/gce-identity.ts';
import type { IdentityVerifier } from './identity.ts';
import { LocalProvider } from './local/local-provider.ts';
import type { CloudProvider } from './provider.ts';

/**
 * Each provider's identity verifier, by provider id: EC2's and GCE's from their `identity` settings, the local
 * cloud's from its own key. `providers[i]` is the adapter built from `configs[i]`. A cloud provider without an
 * `identity` setting is a ValidationError naming `providers.<i>.identity`: none of its instances could register.
 */
export function identityVerifiers(
  configs: Config['providers'],
  providers: readonly CloudProvider[],
): Map<string, IdentityVerifier> {
  const verifiers = new Map<string, IdentityVerifier>();
  configs.forEach((config, i) => {
    const provider = providers[i];
    if (!provider) return;
    const field = `providers.${i}.identity`;
    if (config.kind === 'local') {
      if (provider instanceof LocalProvider) verifiers.set(provider.id, provider.identityVerifier());
      return;
    }
    if (config.identity === undefined) {
      throw new ValidationError(
        field,
        config.kind === 'aws-ec2'
          ? "required: the AWS RSA certificate of the region (certificateFile) and accountId, to verify instances' identity documents"
          : "required: Google's certificates (certificatesFile or certificatesUrl), to verify instances' identity tokens",
      );
    }
    verifiers.set(
      provider.id,
      config.kind === 'aws-ec2'
        ? ec2IdentityVerifier(config.region, config.identity, field)
        : new GceIdentityVerifier({ project: config.project, zones: config.zones, config: config.identity, field }),
    );
  });
  return verifiers;
}
