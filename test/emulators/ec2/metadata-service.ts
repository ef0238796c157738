import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../../src/core/clock.ts';
import { EC2_TEST_KEY } from '../identity/test-keys.ts';
import type { EmulatedInstance } from './emulated-instance.ts';

/** The account the emulator's instances run in: what their identity documents name. */
export const EMULATOR_ACCOUNT_ID = '123456789012';

/** Where an instance's metadata service lives on the emulator: `<emulator url>/_imds/<instance id>`. */
export const METADATA_PREFIX = '/_imds/';

const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const MAX_TTL_SECONDS = 21_600;

/**
 * An IMDSv2-style metadata service per instance: `PUT /latest/api/token` with a TTL header returns a session token,
 * and every `GET /latest/meta-data/...` must carry it (401 otherwise). `spot/instance-action` is 404 until a spot
 * interruption is scheduled, then `{"action":"terminate","time":"..."}`. A terminated instance has no service.
 */
export class MetadataService {
  readonly #clock: Clock;
  readonly #lookup: (instanceId: string) => EmulatedInstance | undefined;
  readonly #region: string;
  readonly #tokens = new Map<string, { readonly instanceId: string; readonly expiresAtMs: number }>();
  /** Requests served, by path, for tests. */
  readonly requests: Array<{ instanceId: string; method: string; path: string; status: number }> = [];

  constructor(clock: Clock, lookup: (instanceId: string) => EmulatedInstance | undefined, region = 'us-east-1') {
    this.#clock = clock;
    this.#lookup = lookup;
    this.#region = region;
  }

  /**
   * An instance's identity document, as IMDS serves `/latest/dynamic/instance-identity/document`: pretty-printed
   * JSON, `pendingTime` the launch time to the second. Its signature is EC2_TEST_KEY's.
   */
  identityDocument(instance: EmulatedInstance): string {
    const doc = {
      accountId: EMULATOR_ACCOUNT_ID,
      architecture: 'x86_64',
      availabilityZone: instance.zone,
      billingProducts: null,
      devpayProductCodes: null,
      marketplaceProductCodes: null,
      imageId: instance.imageId,
      instanceId: instance.id,
      instanceType: instance.instanceType,
      kernelId: null,
      pendingTime: new Date(instance.launchTimeMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      privateIp: instance.privateIp,
      ramdiskId: null,
      region: this.#region,
      version: '2017-09-30',
    };
    return JSON.stringify(doc, null, 2);
  }

  handles(url: string): boolean {
    return url.startsWith(METADATA_PREFIX);
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    const rest = (req.url ?? '').slice(METADATA_PREFIX.length);
    const slash = rest.indexOf('/');
    const instanceId = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? '/' : rest.slice(slash).split('?')[0]!;
    const answer = (status: number, body: string, type = 'text/plain'): void => {
      this.requests.push({ instanceId, method: req.method ?? '', path, status });
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const instance = this.#lookup(instanceId);
    if (!instance || instance.state === 'terminated' || instance.state === 'shutting-down')
      return answer(404, 'Not Found');

    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return answer(405, 'Method Not Allowed');
      const ttl = Number(req.headers[TOKEN_TTL_HEADER]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) return answer(400, 'Bad Request');
      const token = randomBytes(32).toString('base64');
      this.#tokens.set(token, { instanceId, expiresAtMs: this.#clock.now() + ttl * 1000 });
      return answer(200, token);
    }
    const identity = path.startsWith('/latest/dynamic/instance-identity/');
    if (!path.startsWith('/latest/meta-data/') && !identity) return answer(404, 'Not Found');
    if (req.method !== 'GET') return answer(405, 'Method Not Allowed');
    const token = this.#tokens.get(String(req.headers[TOKEN_HEADER] ?? ''));
    if (!token || token.instanceId !== instanceId || token.expiresAtMs <= this.#clock.now())
      return answer(401, 'Unauthorized');
    if (identity) {
      const document = this.identityDocument(instance);
      switch (path.slice('/latest/dynamic/instance-identity/'.length)) {
        case 'document':
          return answer(200, document);
        case 'signature':
          return answer(200, EC2_TEST_KEY.signBase64(document));
        default:
          return answer(404, 'Not Found');
      }
    }

    const item = path.slice('/latest/meta-data/'.length);
    const value = metadataItem(instance, item);
    if (value === undefined) return answer(404, 'Not Found');
    return answer(200, value, item === 'spot/instance-action' ? 'application/json' : 'text/plain');
  }
}

function metadataItem(instance: EmulatedInstance, item: string): string | undefined {
  switch (item) {
    case 'instance-id':
      return instance.id;
    case 'instance-type':
      return instance.instanceType;
    case 'ami-id':
      return instance.imageId;
    case 'local-ipv4':
      return instance.privateIp;
    case 'placement/availability-zone':
      return instance.zone;
    case 'instance-life-cycle':
      return instance.lifecycle;
    case 'spot/instance-action':
      return instance.interruption
        ? JSON.stringify({
            action: instance.interruption.action,
            time: new Date(instance.interruption.timeMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          })
        : undefined;
    default:
      return undefined;
  }
}
