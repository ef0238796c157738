import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { SpillwayError, ValidationError, errorMessage } from '../../core/errors.ts';
import {
  IdentityError,
  publicKeyFromPem,
  rsaSha256Verifies,
  type AttestedInstance,
  type IdentityProof,
  type IdentityVerifier,
  type VerifyContext,
} from '../identity.ts';

/** A gcp-compute provider's `identity` setting: where Google's token-signing certificates come from. */
export interface GceIdentityConfig {
  /** A JSON file mapping key ids to PEM certificates (the shape of https://www.googleapis.com/oauth2/v1/certs). */
  readonly certificatesFile?: string | undefined;
  /** A URL serving that JSON, fetched when a token names a key not yet known, and cached. */
  readonly certificatesUrl?: string | undefined;
}

/** Issuers of GCE instance identity tokens. */
const ISSUERS: ReadonlySet<string> = new Set(['https://accounts.google.com', 'accounts.google.com']);
/** A fetched certificate set is refreshed after this, and not refetched for an unknown key more often than the next. */
const CACHE_MS = 3_600_000;
const REFETCH_MIN_MS = 60_000;
/** Clock skew allowed on `iat`. */
const SKEW_MS = 60_000;

interface Claims {
  readonly iss?: unknown;
  readonly aud?: unknown;
  readonly exp?: unknown;
  readonly iat?: unknown;
  readonly google?: { readonly compute_engine?: Record<string, unknown> };
}

/**
 * The GCE provider's identity verifier: instance identity tokens (`instance/service-accounts/default/identity?
 * audience=<controller URL>&format=full`), RS256 JWTs signed by Google. It checks the signature against the key the
 * header's `kid` names among the configured certificates, the issuer, the audience (the controller's URL), expiry,
 * and that `google.compute_engine.project_id` is the provider's project and `zone` one of its zones. The instance is
 * `zone/instance_name`, as the adapter names instances. Tokens are single-use: the answer carries the hash of the
 * token's signed part (header and payload) until its `exp` for the registry to record.
 */
export class GceIdentityVerifier implements IdentityVerifier {
  readonly #project: string;
  readonly #zones: ReadonlySet<string>;
  readonly #config: GceIdentityConfig;
  #keys = new Map<string, KeyObject>();
  #fetchedAtMs = Number.NEGATIVE_INFINITY;
  #fetching: Promise<void> | undefined;

  /** Throws a ValidationError naming `<field>` when neither or both sources are given or the file is bad. */
  constructor(opts: { project: string; zones: readonly string[]; config: GceIdentityConfig; field?: string }) {
    const field = opts.field ?? 'identity';
    this.#project = opts.project;
    this.#zones = new Set(opts.zones);
    this.#config = opts.config;
    const { certificatesFile, certificatesUrl } = opts.config;
    if ((certificatesFile === undefined) === (certificatesUrl === undefined)) {
      throw new ValidationError(field, 'give exactly one of certificatesFile and certificatesUrl');
    }
    if (certificatesFile !== undefined) {
      let text: string;
      try {
        text = readFileSync(certificatesFile, 'utf8');
      } catch (err) {
        throw new ValidationError(`${field}.certificatesFile`, `cannot read ${certificatesFile}: ${errorMessage(err)}`);
      }
      try {
        this.#keys = parseCertificates(text);
      } catch (err) {
        throw new ValidationError(`${field}.certificatesFile`, `${certificatesFile}: ${errorMessage(err)}`);
      }
    }
  }

  async verify(proof: IdentityProof, ctx: VerifyContext): Promise<AttestedInstance> {
    const parts = proof.document.split('.');
    if (parts.length !== 3) throw new IdentityError('malformed', 'the GCE identity token is not a JWT');
    const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
    const header = decodeJson(headerPart, 'header') as { alg?: unknown; kid?: unknown };
    if (header.alg !== 'RS256') throw new IdentityError('malformed', 'the GCE identity token is not RS256');
    if (typeof header.kid !== 'string') throw new IdentityError('malformed', 'the GCE identity token names no key');
    const key = await this.#key(header.kid, ctx.nowMs);
    const signed = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
    if (!key || !rsaSha256Verifies(key, signed, Buffer.from(signaturePart, 'base64url'))) {
      throw new IdentityError(
        'signature',
        "the GCE identity token's signature does not verify against the configured certificates",
      );
    }
    const claims = decodeJson(payloadPart, 'payload') as Claims;
    if (typeof claims.iss !== 'string' || !ISSUERS.has(claims.iss)) {
      throw new IdentityError('malformed', `the GCE identity token's issuer is ${JSON.stringify(claims.iss)}`);
    }
    if (claims.aud !== ctx.audience) {
      throw new IdentityError(
        'audience',
        `the GCE identity token is for audience ${JSON.stringify(claims.aud)}, not this controller (${ctx.audience})`,
      );
    }
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= ctx.nowMs) {
      throw new IdentityError('expired', 'the GCE identity token has expired');
    }
    if (typeof claims.iat === 'number' && claims.iat * 1000 > ctx.nowMs + SKEW_MS) {
      throw new IdentityError('malformed', 'the GCE identity token was issued in the future');
    }
    const ce = claims.google?.compute_engine;
    const project = ce?.project_id;
    const zone = ce?.zone;
    const name = ce?.instance_name;
    if (typeof project !== 'string' || typeof zone !== 'string' || typeof name !== 'string') {
      throw new IdentityError('malformed', 'the GCE identity token has no instance claims (request format=full)');
    }
    if (project !== this.#project) {
      throw new IdentityError('account', `the GCE identity token names project ${project}, not ${this.#project}`);
    }
    if (!this.#zones.has(zone)) {
      throw new IdentityError('region', `the GCE identity token names zone ${zone}, not one of this provider's`);
    }
    // Names are reused (spw-<intent>-<n>): a token of an older instance of the same name is not this one's.
    const createdS = ce?.instance_creation_timestamp;
    if (typeof createdS !== 'number') {
      throw new IdentityError('malformed', 'the GCE identity token has no instance_creation_timestamp');
    }
    if (ctx.nowMs - createdS * 1000 > ctx.maxAgeMs) {
      throw new IdentityError(
        'expired',
        `the GCE identity token is of an instance ${zone}/${name} created ${new Date(createdS * 1000).toISOString()}, ` +
          `over ${ctx.maxAgeMs} ms ago`,
      );
    }
    return {
      instanceId: `${zone}/${name}`,
      singleUse: {
        // What the signature covers, not the token's text: base64url leaves a signature's last bits free to respell.
        key: createHash('sha256').update(signed).digest('hex'),
        expiresAtMs: claims.exp * 1000,
      },
    };
  }

  async #key(kid: string, nowMs: number): Promise<KeyObject | undefined> {
    const url = this.#config.certificatesUrl;
    if (url === undefined) return this.#keys.get(kid);
    const stale = nowMs - this.#fetchedAtMs > CACHE_MS;
    const unknownMayRefetch = !this.#keys.has(kid) && nowMs - this.#fetchedAtMs > REFETCH_MIN_MS;
    // Registrations arriving together share the fetch in flight, and its outcome.
    if (this.#fetching || stale || unknownMayRefetch) {
      this.#fetching ??= this.#fetch(url, nowMs).finally(() => {
        this.#fetching = undefined;
      });
      await this.#fetching;
    }
    return this.#keys.get(kid);
  }

  async #fetch(url: string, nowMs: number): Promise<void> {
    // Any failure, a body that is not certificates included, is the fetch's: retryable (503), keys unchanged.
    let keys: Map<string, KeyObject>;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      keys = parseCertificates(await res.text());
    } catch (err) {
      throw new SpillwayError(`fetching Google's certificates from ${url}: ${errorMessage(err)}`, {
        retryable: true,
        cause: err,
      });
    }
    this.#keys = keys;
    this.#fetchedAtMs = nowMs;
  }
}

function parseCertificates(text: string): Map<string, KeyObject> {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('expected a JSON object of key id to PEM certificate');
  }
  const keys = new Map<string, KeyObject>();
  for (const [kid, pem] of Object.entries(value)) {
    if (typeof pem !== 'string') throw new Error(`key ${kid} is not a PEM string`);
    keys.set(kid, publicKeyFromPem(pem));
  }
  return keys;
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new IdentityError('malformed', `the GCE identity token's ${what} is not base64url JSON`);
}
