import { readFileSync } from 'node:fs';
import type { protos } from '@google-cloud/compute';
// The two clients the adapter calls, not the package's index: the index loads every Compute client and the compiled
// protos (30 MB of source), about 90 MiB more resident and 70 MiB more JS heap for every serve with a GCE provider.
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { ZoneOperationsClient } from '@google-cloud/compute/build/src/v1/zone_operations_client.js';

export type GceOperation = protos.google.cloud.compute.v1.IOperation;
export type GceInstance = protos.google.cloud.compute.v1.IInstance;
export type GceInsertRequest = protos.google.cloud.compute.v1.IInsertInstanceRequest;
export type GceBulkInsertRequest = protos.google.cloud.compute.v1.IBulkInsertInstanceRequest;
export type GceDeleteRequest = protos.google.cloud.compute.v1.IDeleteInstanceRequest;
export type GceListRequest = protos.google.cloud.compute.v1.IListInstancesRequest;
export type GceWaitRequest = protos.google.cloud.compute.v1.IWaitZoneOperationRequest;

export interface GceCallOptions {
  readonly signal?: AbortSignal;
}

/** One page of `instances.list`. */
export interface GceInstancePage {
  readonly items: GceInstance[];
  /** Undefined on the last page. */
  readonly nextPageToken: string | undefined;
}

/**
 * The second seam of the adapter: exactly the Compute Engine calls Spillway makes (GCE_API_CALLS), in the SDK's own
 * shapes. Implementations make one attempt per call (no retries of their own) and throw what the SDK throws; the
 * adapter translates errors.
 */
export interface GceApi {
  /** `instances.insert`: the zone operation it started. */
  insert(request: GceInsertRequest, opts?: GceCallOptions): Promise<GceOperation>;
  /** `instances.bulkInsert`: the zone operation it started. */
  bulkInsert(request: GceBulkInsertRequest, opts?: GceCallOptions): Promise<GceOperation>;
  /** `instances.delete`: the zone operation it started. */
  delete(request: GceDeleteRequest, opts?: GceCallOptions): Promise<GceOperation>;
  /** One page of `instances.list`. */
  list(request: GceListRequest, opts?: GceCallOptions): Promise<GceInstancePage>;
  /** `zoneOperations.wait`: the operation when done, or as it stands after about two minutes. */
  waitZoneOperation(request: GceWaitRequest, opts?: GceCallOptions): Promise<GceOperation>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/** Where the Compute API is: a Private Service Connect endpoint, or an emulator in tests. Default Google's. */
export interface GceEndpoint {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http' | 'https';
}

export interface SdkGceApiOptions {
  readonly endpoint?: GceEndpoint | undefined;
  /**
   * A fixed OAuth access token, for tests and emulators. When absent the SDK uses Application Default Credentials
   * (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, workload identity or the metadata server), which production wants.
   */
  readonly accessToken?: string | (() => string) | undefined;
  /** How long one call may take before it fails as a network error. */
  readonly requestTimeoutMs: number;
}

/** How long Compute Engine may hold a `zoneOperations.wait` before answering with the operation as it stands. */
const OPERATION_WAIT_HOLD_MS = 120_000;

/**
 * The auth client the SDK's REST transport uses for a token given (or read afresh for each call, from a file another
 * process keeps current): it adds `Authorization: Bearer` and fetches. No refresh of its own, no metadata server probe.
 */
function staticTokenAuthClient(source: string | (() => string)): object {
  const token = (): string => (typeof source === 'string' ? source : source());
  const headers = async (): Promise<Headers> => new Headers({ authorization: `Bearer ${token()}` });
  return {
    universeDomain: 'googleapis.com',
    getRequestHeaders: headers,
    async fetch(url: string | URL, init: RequestInit) {
      const h = new Headers(init.headers);
      h.set('authorization', `Bearer ${token()}`);
      return fetch(url, {
        method: init.method ?? 'GET',
        headers: h,
        body: init.body ?? null,
        signal: init.signal ?? null,
      });
    },
  };
}

/**
 * The GceApi over `@google-cloud/compute` on its REST transport (`fallback: true`). The SDK's retries are off
 * (`retry: null`): a throttled or failed call comes back at once, and Spillway's provisioner retries it on its own
 * clock with the same requestId. `signal` and the request timeout end the wait for an answer; a call already sent
 * may still take effect, which is what requestId and the intent label are for.
 */
export function sdkGceApi(opts: SdkGceApiOptions): GceApi {
  const clientOptions = {
    fallback: true,
    ...(opts.endpoint === undefined
      ? {}
      : { apiEndpoint: opts.endpoint.host, port: opts.endpoint.port, protocol: opts.endpoint.protocol }),
    ...(opts.accessToken === undefined ? {} : { authClient: staticTokenAuthClient(opts.accessToken) }),
  };
  // The client options type names google-auth-library's AuthClient; ours is structurally what the REST stub calls.
  const instances = new InstancesClient(clientOptions as ConstructorParameters<typeof InstancesClient>[0]);
  const operations = new ZoneOperationsClient(clientOptions as ConstructorParameters<typeof ZoneOperationsClient>[0]);
  const callOptions = { retry: null, timeout: opts.requestTimeoutMs, autoPaginate: false };
  const bounded = <T>(work: Promise<T>, o: GceCallOptions, timeoutMs = opts.requestTimeoutMs): Promise<T> =>
    withDeadline(work, o.signal, timeoutMs);
  // zoneOperations.wait is answered when the operation is done or after about two minutes: its own deadline is that
  // long plus the usual one, or every operation slower than requestTimeoutMs (a delete with its guest's shutdown)
  // would fail as if no answer came.
  const waitTimeoutMs = OPERATION_WAIT_HOLD_MS + opts.requestTimeoutMs;
  const waitCallOptions = { ...callOptions, timeout: waitTimeoutMs };
  return {
    insert: async (request, o = {}) =>
      (await bounded(instances.insert(request, callOptions), o))[0].latestResponse as GceOperation,
    bulkInsert: async (request, o = {}) =>
      (await bounded(instances.bulkInsert(request, callOptions), o))[0].latestResponse as GceOperation,
    delete: async (request, o = {}) =>
      (await bounded(instances.delete(request, callOptions), o))[0].latestResponse as GceOperation,
    list: async (request, o = {}) => {
      const [items, next] = await bounded(instances.list(request, callOptions), o);
      return { items, nextPageToken: next?.pageToken || undefined };
    },
    waitZoneOperation: async (request, o = {}) =>
      (await bounded(operations.wait(request, waitCallOptions), o, waitTimeoutMs))[0],
    close: async () => {
      await Promise.all([instances.close(), operations.close()]);
    },
  };
}

/** `work`, or a rejection when `signal` aborts or `timeoutMs` of real time pass first (a network failure). */
function withDeadline<T>(work: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number): Promise<T> {
  signal?.throwIfAborted();
  const deadline = AbortSignal.timeout(timeoutMs);
  const ended = signal ? AbortSignal.any([signal, deadline]) : deadline;
  return new Promise<T>((resolve, reject) => {
    const onEnd = (): void => reject(ended.reason instanceof Error ? ended.reason : new Error(String(ended.reason)));
    ended.addEventListener('abort', onEnd, { once: true });
    work.then(
      (value) => {
        ended.removeEventListener('abort', onEnd);
        resolve(value);
      },
      (err: unknown) => {
        ended.removeEventListener('abort', onEnd);
        reject(err);
      },
    );
  });
}
/** Reads the token file for each call (another process keeps it current); undefined without a file. */
export function tokenFileSource(file: string | undefined): (() => string) | undefined {
  if (file === undefined) return undefined;
  return () => readFileSync(file, 'utf8').trim();
}
