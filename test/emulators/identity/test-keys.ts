import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The emulators' identity signing keys: a test key pair per cloud, committed with its self-signed certificate. The
 * emulators sign identity documents and tokens with the private half; tests configure the controller with the
 * certificate file exactly as production configures AWS's or Google's (`identity.certificateFile`, or the GCE
 * emulator's certificates URL). These keys protect nothing.
 */
export interface TestSigningKey {
  /** The PEM certificate file the controller is configured with. */
  readonly certificateFile: string;
  readonly certificatePem: string;
  /** GCE's key id (the JWT header's `kid`): derived from the certificate. */
  readonly kid: string;
  /** A base64 RSA SHA-256 signature of `data`, as EC2's `/signature` serves it. */
  signBase64(data: string): string;
  /** An RS256 JWT of `claims`, as GCE's identity endpoint serves it. */
  jwt(claims: Record<string, unknown>): string;
}

function load(cloud: 'ec2' | 'gce'): TestSigningKey {
  const certificateFile = join(import.meta.dirname, `${cloud}-test-cert.pem`);
  const certificatePem = readFileSync(certificateFile, 'utf8');
  const key: KeyObject = createPrivateKey(readFileSync(join(import.meta.dirname, `${cloud}-test-key.pem`), 'utf8'));
  const kid = createHash('sha1').update(certificatePem).digest('hex');
  return {
    certificateFile,
    certificatePem,
    kid,
    signBase64: (data) => sign('sha256', Buffer.from(data, 'utf8'), key).toString('base64'),
    jwt: (claims) => {
      const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' })).toString('base64url');
      const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
      const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key).toString('base64url');
      return `${header}.${payload}.${signature}`;
    },
  };
}

export const EC2_TEST_KEY: TestSigningKey = load('ec2');
export const GCE_TEST_KEY: TestSigningKey = load('gce');
