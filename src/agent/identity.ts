import { SpillwayError, errorMessage } from '../core/errors.ts';

/** A local instance's signed identity document and its signature reach its agent through these (local cloud only). */
export const IDENTITY_DOCUMENT_ENV = 'SPILLWAY_IDENTITY_DOCUMENT';
export const IDENTITY_SIGNATURE_ENV = 'SPILLWAY_IDENTITY_SIGNATURE';

/** What an agent proves its instance with (src/agent/protocol.ts RegisterRequest.identity). */
export interface InstanceIdentity {
  readonly document: string;
  readonly signature?: string;
}

export interface FetchIdentityOptions {
  /** The agent's `spillway.io/provider` label: `gcp-compute:...` asks GCE's metadata server, anything else EC2's. */
  readonly providerId: string | undefined;
  /** The metadata service's base URL (`http://169.254.169.254`, `http://metadata.google.internal`, an emulator's). */
  readonly metadataUrl: string | undefined;
  /** The controller's URL: the audience of a GCE identity token. */
  readonly audience: string;
  readonly env: NodeJS.ProcessEnv;
  readonly signal: AbortSignal;
}

/**
 * This instance's identity, as its cloud signs it: the local cloud's document from the environment; else GCE's
 * identity token (`format=full`, a fresh one each call: the controller accepts each once); else EC2's identity
 * document and base64 signature through IMDSv2. Undefined when there is neither an environment document nor a
 * metadata service. Throws a retryable SpillwayError when the metadata service fails.
 */
export async function fetchInstanceIdentity(opts: FetchIdentityOptions): Promise<InstanceIdentity | undefined> {
  const document = opts.env[IDENTITY_DOCUMENT_ENV];
  if (document) {
    const signature = opts.env[IDENTITY_SIGNATURE_ENV];
    return signature ? { document, signature } : { document };
  }
  if (opts.metadataUrl === undefined) return undefined;
  const base = opts.metadataUrl.replace(/\/+$/, '');
  try {
    if (opts.providerId?.startsWith('gcp-compute')) {
      const query = new URLSearchParams({ audience: opts.audience, format: 'full' });
      const token = await text(`${base}/computeMetadata/v1/instance/service-accounts/default/identity?${query}`, {
        headers: { 'Metadata-Flavor': 'Google' },
        signal: opts.signal,
      });
      return { document: token.trim() };
    }
    const session = await text(`${base}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '300' },
      signal: opts.signal,
    });
    const headers = { 'X-aws-ec2-metadata-token': session };
    const [doc, signature] = await Promise.all([
      text(`${base}/latest/dynamic/instance-identity/document`, { headers, signal: opts.signal }),
      text(`${base}/latest/dynamic/instance-identity/signature`, { headers, signal: opts.signal }),
    ]);
    return { document: doc, signature: signature.trim() };
  } catch (err) {
    if (opts.signal.aborted) throw err;
    throw new SpillwayError(`fetching this instance's identity from ${base}: ${errorMessage(err)}`, {
      retryable: true,
      cause: err,
    });
  }
}

async function text(url: string, init: RequestInit): Promise<string> {
  const res = await fetch(url, init);
  const body = await res.text();
  if (!res.ok) throw new Error(`${url.split('?')[0]} answered ${res.status}`);
  return body;
}
