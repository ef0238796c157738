import { readFileSync } from 'node:fs';
import { ValidationError, errorMessage } from '../../core/errors.ts';
import { publicKeyFromPem, type IdentityVerifier } from '../identity.ts';
import { InstanceDocumentVerifier } from '../instance-document.ts';

/** An aws-ec2 provider's `identity` setting: how the controller verifies its instances' identity documents. */
export interface Ec2IdentityConfig {
  /**
   * PEM of the AWS public certificate for the provider's region that verifies the base64 RSA SHA-256 signature
   * (AWS's "RSA" certificate, not the DSA or RSA-2048 one). Tests give the EC2 emulator's.
   */
  readonly certificateFile: string;
  /** The AWS account the provider launches into: every document must name it. */
  readonly accountId: string;
}

/**
 * The EC2 provider's identity verifier: instance identity documents signed by AWS for `region` in `accountId`.
 * Throws a ValidationError naming `<field>.certificateFile` when the file is missing or holds no certificate.
 */
export function ec2IdentityVerifier(region: string, config: Ec2IdentityConfig, field = 'identity'): IdentityVerifier {
  let pem: string;
  try {
    pem = readFileSync(config.certificateFile, 'utf8');
  } catch (err) {
    throw new ValidationError(
      `${field}.certificateFile`,
      `cannot read ${config.certificateFile}: ${errorMessage(err)}`,
    );
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new ValidationError(`${field}.certificateFile`, `${config.certificateFile} holds no PEM certificate`);
  }
  const keys = blocks.map((block) => {
    try {
      return publicKeyFromPem(block);
    } catch (err) {
      throw new ValidationError(`${field}.certificateFile`, `${config.certificateFile}: ${errorMessage(err)}`);
    }
  });
  return new InstanceDocumentVerifier({ keys, accountId: config.accountId, region, cloud: 'EC2' });
}
