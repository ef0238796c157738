import type { KeyObject } from 'node:crypto';
import {
  IdentityError,
  rsaSha256Verifies,
  strictBase64,
  type AttestedInstance,
  type IdentityProof,
  type IdentityVerifier,
  type VerifyContext,
} from './identity.ts';

/**
 * The fields of an EC2 instance identity document Spillway reads (the document has more: imageId, instanceType,
 * privateIp, version...). The local cloud signs documents of the same shape.
 */
export interface InstanceDocument {
  readonly accountId: string;
  readonly region: string;
  readonly availabilityZone?: string;
  readonly instanceId: string;
  /** ISO 8601 UTC, second precision: when the instance entered `pending`. */
  readonly pendingTime: string;
}

export interface InstanceDocumentVerifierOptions {
  /** The keys that may have signed documents (the cloud's public certificate for the region). */
  readonly keys: readonly KeyObject[];
  /** The account every instance of this provider runs in. */
  readonly accountId: string;
  readonly region: string;
  /** Names the cloud in messages (`EC2`). */
  readonly cloud: string;
}

/**
 * Verifies an instance identity document and its base64 RSA SHA-256 signature, as EC2's IMDS serves them
 * (`/latest/dynamic/instance-identity/document` and `/signature`): the signature must verify against a configured key
 * over the document's exact bytes, the account and region must be this provider's, and `pendingTime` must be no older
 * than `ctx.maxAgeMs` (a document lifted from a long-running instance cannot register a new one). The document is not
 * single-use: the cloud serves the same one for the instance's life; the registry accepts each instance once.
 */
export class InstanceDocumentVerifier implements IdentityVerifier {
  readonly #opts: InstanceDocumentVerifierOptions;

  constructor(opts: InstanceDocumentVerifierOptions) {
    this.#opts = opts;
  }

  verify(proof: IdentityProof, ctx: VerifyContext): Promise<AttestedInstance> {
    try {
      return Promise.resolve(this.#verify(proof, ctx));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  #verify(proof: IdentityProof, ctx: VerifyContext): AttestedInstance {
    const { cloud } = this.#opts;
    if (proof.signature === undefined) {
      throw new IdentityError('malformed', `the ${cloud} identity document came without its signature`);
    }
    const signature = strictBase64(proof.signature);
    if (!signature) throw new IdentityError('malformed', `the ${cloud} identity signature is not base64`);
    const data = Buffer.from(proof.document, 'utf8');
    if (!this.#opts.keys.some((key) => rsaSha256Verifies(key, data, signature))) {
      throw new IdentityError(
        'signature',
        `the ${cloud} identity document's signature does not verify against the configured certificate`,
      );
    }
    const doc = parseDocument(proof.document, cloud);
    if (doc.accountId !== this.#opts.accountId) {
      throw new IdentityError(
        'account',
        `the ${cloud} identity document names account ${doc.accountId}, not ${this.#opts.accountId}`,
      );
    }
    if (doc.region !== this.#opts.region) {
      throw new IdentityError(
        'region',
        `the ${cloud} identity document names region ${doc.region}, not ${this.#opts.region}`,
      );
    }
    const pendingMs = Date.parse(doc.pendingTime);
    if (!Number.isFinite(pendingMs)) {
      throw new IdentityError('malformed', `the ${cloud} identity document's pendingTime is not a time`);
    }
    if (ctx.nowMs - pendingMs > ctx.maxAgeMs) {
      throw new IdentityError(
        'expired',
        `the ${cloud} identity document of instance ${doc.instanceId} is from ${doc.pendingTime}, ` +
          `older than ${ctx.maxAgeMs} ms`,
      );
    }
    return { instanceId: doc.instanceId };
  }
}

function parseDocument(text: string, cloud: string): InstanceDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new IdentityError('malformed', `the ${cloud} identity document is not JSON`);
  }
  const doc = value as Record<string, unknown> | null;
  for (const field of ['accountId', 'region', 'instanceId', 'pendingTime'] as const) {
    if (typeof doc?.[field] !== 'string' || doc[field] === '') {
      throw new IdentityError('malformed', `the ${cloud} identity document has no ${field}`);
    }
  }
  return doc as unknown as InstanceDocument;
}
