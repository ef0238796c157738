import { X509Certificate, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AccessError } from '../core/errors.ts';

/**
 * What a cloud agent sends to prove which instance it is, beside its bootstrap credential.
 * - EC2 and the local cloud: `document` is the instance identity document (JSON text, byte for byte as served) and
 *   `signature` its base64 RSA SHA-256 signature.
 * - GCE: `document` is the instance identity token (an RS256 JWT in `format=full`); `signature` is absent.
 */
export interface IdentityProof {
  readonly document: string;
  readonly signature?: string;
}

/** An instance a verifier vouches for. */
export interface AttestedInstance {
  /** The instance id as its provider's adapter reports it (EC2 `i-...`, GCE `zone/name`, a local id). */
  readonly instanceId: string;
  /**
   * For a single-use proof (GCE's token): a key the registry records, until `expiresAtMs`, so the proof is accepted
   * once. Absent for proofs a cloud serves again unchanged (EC2's document).
   */
  readonly singleUse?: { readonly key: string; readonly expiresAtMs: number };
}

/** What a verifier checks a proof against besides its certificate. */
export interface VerifyContext {
  /** The controller's URL: the audience a GCE token must name. */
  readonly audience: string;
  readonly nowMs: number;
  /** How old an EC2 document's `pendingTime` may be: the policy's `maxProvisionMs`. */
  readonly maxAgeMs: number;
}

/**
 * One per provider, beside its adapter (STYLE rule 15): the only code that reads a cloud's signatures. `verify`
 * checks the proof's signature against the configured certificate and every claim it can check alone (account or
 * project, region or zone, audience, age), and returns the instance it names. It never trusts the proof's own word on
 * which key signed it beyond choosing among configured keys. Throws IdentityError (401) naming what failed; rejects
 * with a retryable error only when configured keys cannot be fetched.
 */
export interface IdentityVerifier {
  verify(proof: IdentityProof, ctx: VerifyContext): Promise<AttestedInstance>;
}

/** Why an identity was refused: one word for the audit log, beside the message. */
export const IdentityRefusal = {
  missing: 'missing',
  malformed: 'malformed',
  signature: 'signature',
  account: 'account',
  region: 'region',
  audience: 'audience',
  expired: 'expired',
  replayed: 'replayed',
  instance: 'instance',
  intent: 'intent',
  unconfigured: 'unconfigured',
} as const;
export type IdentityRefusal = (typeof IdentityRefusal)[keyof typeof IdentityRefusal];

/** A proof of identity was refused: always 401, with the reason for the audit log. */
export class IdentityError extends AccessError {
  readonly reason: IdentityRefusal;

  constructor(reason: IdentityRefusal, message: string) {
    super(401, `registering: ${message} (${reason})`);
    this.reason = reason;
  }
}

/** A public key from PEM: an X.509 certificate (what clouds publish) or a bare public key (the local cloud's). */
export function publicKeyFromPem(pem: string): KeyObject {
  return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
}

/** Whether `signatureBase64` is an RSA SHA-256 (PKCS #1 v1.5) signature of `data` by `key`. Never throws. */
export function rsaSha256Verifies(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return verify('sha256', data, key, signature);
  } catch {
    return false;
  }
}

/** Strict base64 (whitespace ignored, as IMDS may wrap lines): the bytes, or undefined when it is not base64. */
export function strictBase64(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) return undefined;
  return Buffer.from(compact, 'base64');
}
