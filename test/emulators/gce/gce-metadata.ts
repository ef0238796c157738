import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../../src/core/clock.ts';
import { GCE_TEST_KEY } from '../identity/test-keys.ts';
import type { EmulatedGceInstance } from './gce-instance.ts';

/** Where an instance's metadata server lives on the emulator: `<emulator url>/_gce_md/<zone>/<name>`. */
export const GCE_METADATA_PREFIX = '/_gce_md/';

const PROJECT_NUMBER = '123456789012';
/** Where the emulator serves its token-signing certificates, shaped as https://www.googleapis.com/oauth2/v1/certs. */
export const GCE_CERTS_PATH = '/_gce_certs';
/** The instances' default service account (identity tokens need one). */
const SERVICE_ACCOUNT_ID = '104170000000000000001';
/** How long a `wait_for_change` request hangs at most without `timeout_sec` (real time). */
const DEFAULT_HANG_MS = 30_000;

/**
 * A metadata server per instance, as GCE's: `GET /computeMetadata/v1/instance/<item>` with header
 * `Metadata-Flavor: Google` (403 without it), answering with the same header and an ETag. `instance/preempted` is
 * `FALSE` until the instance is preempted, then `TRUE`; `?wait_for_change=true` hangs until the value's ETag differs
 * from `last_etag` (or, without one, until the next change) or `timeout_sec` passes. A deleted instance has none.
 */
export class GceMetadataServer {
  readonly #lookup: (zone: string, name: string) => EmulatedGceInstance | undefined;
  readonly #clock: Clock;
  readonly #project: string;
  readonly #waiters = new Set<() => void>();
  /** Requests served, for tests. */
  readonly requests: Array<{ instance: string; path: string; status: number; waited: boolean }> = [];

  constructor(
    lookup: (zone: string, name: string) => EmulatedGceInstance | undefined,
    clock: Clock,
    project: string,
  ) {
    this.#lookup = lookup;
    this.#clock = clock;
    this.#project = project;
  }

  /** The certificates answer at GCE_CERTS_PATH: key id to PEM, as Google's. */
  certificatesJson(): string {
    return JSON.stringify({ [GCE_TEST_KEY.kid]: GCE_TEST_KEY.certificatePem });
  }

  /**
   * An instance identity token, as `instance/service-accounts/default/identity?audience=...&format=full` serves it: a
   * fresh RS256 JWT (GCE_TEST_KEY) on each call, valid an hour, with the `google.compute_engine` claims in `full`
   * format only.
   */
  identityToken(instance: EmulatedGceInstance, audience: string, full: boolean): string {
    const iat = Math.floor(this.#clock.now() / 1000);
    return GCE_TEST_KEY.jwt({
      iss: 'https://accounts.google.com',
      aud: audience,
      azp: SERVICE_ACCOUNT_ID,
      sub: SERVICE_ACCOUNT_ID,
      iat,
      exp: iat + 3600,
      ...(full
        ? {
            google: {
              compute_engine: {
                instance_creation_timestamp: Math.floor(instance.createdAtMs / 1000),
                instance_id: instance.id,
                instance_name: instance.name,
                project_id: this.#project,
                project_number: Number(PROJECT_NUMBER),
                zone: instance.zone,
              },
            },
          }
        : {}),
      // Each token differs, as Google's do (a new one per request).
      jti: randomUUID(),
    });
  }

  handles(url: string): boolean {
    return url.startsWith(GCE_METADATA_PREFIX);
  }

  /** Wakes every hanging `wait_for_change` (an instance's metadata changed). */
  changed(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Answers every hanging request now (the emulator closes). */
  closeAll(): void {
    this.changed();
  }

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://metadata');
    const [zone = '', name = '', ...rest] = url.pathname.slice(GCE_METADATA_PREFIX.length).split('/');
    const path = `/${rest.join('/')}`;
    const waited = url.searchParams.get('wait_for_change') === 'true';
    const answer = (status: number, body: string, etag?: string): void => {
      this.requests.push({ instance: `${zone}/${name}`, path, status, waited });
      res.writeHead(status, {
        'content-type': 'application/text',
        'metadata-flavor': 'Google',
        ...(etag ? { etag } : {}),
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (String(req.headers['metadata-flavor'] ?? '') !== 'Google')
      return answer(403, 'Missing Metadata-Flavor:Google header.');
    const prefix = '/computeMetadata/v1/instance/';
    if (!path.startsWith(prefix)) return answer(404, 'Not Found');
    const item = path.slice(prefix.length);
    if (item === 'service-accounts/default/identity') {
      const instance = this.#lookup(zone, name);
      if (!instance) return answer(404, 'Not Found');
      const audience = url.searchParams.get('audience');
      if (!audience) return answer(400, 'non-empty audience parameter required');
      return answer(200, this.identityToken(instance, audience, url.searchParams.get('format') === 'full'));
    }
    const read = (): { value: string; etag: string } | undefined => {
      const instance = this.#lookup(zone, name);
      if (!instance) return undefined;
      const value = itemOf(instance, item);
      return value === undefined ? undefined : { value, etag: `${instance.id}-${instance.metadataVersion}` };
    };
    let now = read();
    if (!now) return answer(404, 'Not Found');
    if (waited) {
      const lastEtag = url.searchParams.get('last_etag') ?? now.etag;
      const timeoutSec = Number(url.searchParams.get('timeout_sec') ?? '');
      const hangMs = Number.isFinite(timeoutSec) && timeoutSec > 0 ? timeoutSec * 1000 : DEFAULT_HANG_MS;
      if (now.etag === lastEtag) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            this.#waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, hangMs);
          this.#waiters.add(wake);
          req.on('close', wake);
        });
        now = read();
        if (!now) return answer(404, 'Not Found');
      }
    }
    return answer(200, now.value, now.etag);
  }
}

function itemOf(instance: EmulatedGceInstance, item: string): string | undefined {
  switch (item) {
    case 'id':
      return instance.id;
    case 'name':
      return instance.name;
    case 'zone':
      return `projects/${PROJECT_NUMBER}/zones/${instance.zone}`;
    case 'machine-type':
      return `projects/${PROJECT_NUMBER}/machineTypes/${instance.machineType}`;
    case 'preempted':
      return instance.preempted ? 'TRUE' : 'FALSE';
    case 'scheduling/preemptible':
      return instance.spot ? 'TRUE' : 'FALSE';
    default:
      if (item.startsWith('attributes/')) return instance.metadata.get(item.slice('attributes/'.length));
      return undefined;
  }
}
