import assert from 'node:assert/strict';
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, ApiError } from '../../src/api/client.ts';
import { ApiMetrics } from '../../src/api/metrics.ts';
import type { ProvidersPort } from '../../src/api/provider-status.ts';
import { LaunchBreakers } from '../../src/autoscaler/launch-breakers.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { bootstrapCredential, hashToken, newApiToken } from '../../src/core/credentials.ts';
import { newId, newIntentId } from '../../src/core/ids.ts';
import { DEMO_POLICY } from '../../src/core/policy.ts';
import { AgentRegistry } from '../../src/pool/builtin/registry.ts';
import { LocalIdentity } from '../../src/providers/local/local-identity.ts';
import { ClusterModel } from '../../src/model/cluster-model.ts';
import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Role, Store } from '../../src/store/store.ts';
import { launchIntent, offering } from '../fakes/builders.ts';
import { captureLogs, type LogCapture } from './log-capture.ts';

export const HEARTBEAT_INTERVAL_MS = 1_000;
export const POLL_INTERVAL_MS = 500;
export const PROVIDER_ID = 'local:test';

export interface ApiHarnessOptions {
  readonly maxBodyBytes?: number;
  /** `api.maxTaskPayloadBytes`; default the server's (64 KiB). */
  readonly maxTaskPayloadBytes?: number;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Slurm mode's munge key file, for the munge-key route; unset, as when Slurm is not the pool. */
  readonly slurmMungeKeyFile?: string;
  /** Whether this process holds the lease, as /healthz, status and the provider routes see it; default yes. */
  readonly isLeader?: () => boolean;
  /** Called after each request that may give the control loop work now (the server's `onChange`). */
  readonly onChange?: () => void;
  /**
   * What the server gets as its store, given the harness's asynchronous SQLite store: by default that store itself.
   * A test may hand the server a view of it that holds some calls back, to force an interleaving of requests.
   */
  readonly serverStore?: (store: AsyncStore) => AsyncStore;
}

/** A real SQLite file in a temp dir, a registry, and the API on 127.0.0.1 with a free port; all logs captured. */
export interface ApiHarness {
  readonly dbPath: string;
  /** The SQLite store, synchronous: for tests to set up and inspect data (the server reads only `asyncStore`). */
  readonly store: Store;
  /** The same store through the asynchronous port, as the server uses it. */
  readonly asyncStore: AsyncStore;
  readonly clock: ManualClock;
  readonly logs: LogCapture;
  readonly metrics: ApiMetrics;
  readonly registry: AgentRegistry;
  readonly server: ApiServer;
  /** The launch breakers of provider PROVIDER_ID that status shows and POST /v1/providers/{name}/retry closes. */
  readonly breakers: LaunchBreakers;
  /** One token of each role; `registration` is an unbound agent token; `revoked` was an admin token. */
  readonly tokens: Readonly<Record<'admin' | 'submitter' | 'finance' | 'registration' | 'revoked', string>>;
  /** Every secret the harness made or saw handed out: none may ever appear in the logs. */
  readonly secrets: string[];
  client(token?: string): ApiClient;
  /** Creates a token straight in the store. */
  createToken(role: Role, name: string, agentId?: string | null): string;
  /**
   * The signed identity document of an instance of the harness's local cloud (PROVIDER_ID), as its instance's agent
   * gets it; `pendingAtMs` defaults to now.
   */
  identity(instanceId: string, pendingAtMs?: number): { document: string; signature: string };
  /** Records a launch intent completed with `instanceIds` (provisioning agents) and returns its bootstrap credential. */
  launch(instanceIds: readonly string[], createdAtMs?: number): { intentId: string; credential: string };
  close(): Promise<void>;
}

let harnessKey: string | undefined;

function newIdentityKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export async function startApiHarness(opts: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-api-'));
  const dbPath = join(dir, 'spillway.db');
  const store = openSqliteStore(dbPath);
  const asyncStore = asyncSqliteStore(store);
  const clock = new ManualClock();
  const logs = captureLogs();
  const metrics = new ApiMetrics({ defaultMetrics: false });
  const clients: ApiClient[] = [];
  const secrets: string[] = [];
  try {
    store.meta.bindClusterId('test-cluster');
    // Made on first use: make it now, so a test that compares store dumps sees no first-use write.
    store.meta.serverSecret();
    store.policy.seed(DEMO_POLICY, clock.now());
    const createToken = (role: Role, name: string, agentId: string | null = null): string => {
      const token = newApiToken();
      store.tokens.create({ id: newId('tok'), role, name, agentId, createdAtMs: clock.now() }, hashToken(token));
      secrets.push(token);
      return token;
    };
    const tokens = {
      admin: createToken('admin', 'alice'),
      submitter: createToken('submitter', 'bob'),
      finance: createToken('finance', 'carol'),
      registration: createToken('agent', 'private-agents'),
      revoked: createToken('admin', 'old-admin'),
    };
    const revokedRecord = store.tokens.byHash(hashToken(tokens.revoked));
    if (revokedRecord) store.tokens.revoke(revokedRecord.id, clock.now());
    // The local cloud's attestor: the registry verifies its documents as serve does the local provider's.
    // One key per test process: an RSA key takes a while to make.
    mkdirSync(join(dir, 'local-cloud'));
    writeFileSync(join(dir, 'local-cloud', 'identity-key.pem'), (harnessKey ??= newIdentityKeyPem()), { mode: 0o600 });
    const attestor = new LocalIdentity(join(dir, 'local-cloud'), 'local');
    let serverUrl = '';
    const registry = new AgentRegistry({
      identityVerifiers: new Map([[PROVIDER_ID, attestor.verifier()]]),
      audience: () => serverUrl,
      store: asyncStore,
      clock,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      pollIntervalMs: POLL_INTERVAL_MS,
      logger: logs.logger,
    });
    const breakers = new LaunchBreakers({ clock, logger: logs.logger });
    const providers: ProvidersPort = {
      ids: () => [PROVIDER_ID],
      breakers: () => breakers.list().map((b) => ({ ...b, reason: breakers.reason(b) })),
      retry: (_name, actor) => ({ providerId: PROVIDER_ID, closed: breakers.reset(PROVIDER_ID, `retried by ${actor}`) }),
    };
    const server = await startApiServer({
      providers,
      store: opts.serverStore ? opts.serverStore(asyncStore) : asyncStore,
      registry,
      logger: logs.logger,
      clock,
      metrics,
      listen: { host: '127.0.0.1', port: 0, maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024, tls: opts.tls },
      health: { isLeader: opts.isLeader ?? (() => true), version: '9.9.9-test' },
      // The in-memory model a leading controller keeps of this store (a test loads and refreshes it itself).
      liveAgents: () => {
        const model = ClusterModel.of(store);
        return model.loaded ? model.agents() : undefined;
      },
      ...(opts.maxTaskPayloadBytes === undefined ? {} : { maxTaskPayloadBytes: opts.maxTaskPayloadBytes }),
      ...(opts.slurmMungeKeyFile === undefined ? {} : { slurmMungeKeyFile: opts.slurmMungeKeyFile }),
      ...(opts.onChange === undefined ? {} : { onChange: opts.onChange }),
    });
    serverUrl = server.url;
    return {
      dbPath,
      store,
      asyncStore,
      clock,
      logs,
      metrics,
      registry,
      server,
      breakers,
      tokens,
      secrets,
      createToken,
      client(token) {
        const client = new ApiClient({ url: server.url, token, ca: opts.tls?.cert });
        clients.push(client);
        return client;
      },
      identity(instanceId, pendingAtMs = clock.now()) {
        return attestor.sign({ instanceId, zone: 'local-a', instanceType: 'local.small', launchedAtMs: pendingAtMs });
      },
      launch(instanceIds, createdAtMs = clock.now()) {
        const o = offering({ providerId: PROVIDER_ID, pricePerHourMicros: 250_000 });
        const intent = launchIntent(o, {
          id: newIntentId(),
          count: instanceIds.length,
          createdAtMs,
          updatedAtMs: createdAtMs,
        });
        store.intents.insert(intent);
        store.intents.completeLaunch(intent.id, instanceIds, createdAtMs);
        const credential = bootstrapCredential(store.meta.serverSecret(), intent.id);
        secrets.push(credential);
        return { intentId: intent.id, credential };
      },
      async close() {
        for (const client of clients) client.close();
        await server.close();
        await asyncStore.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as-is; with `chunked`, without a Content-Length. */
  readonly body?: string | Buffer;
  readonly chunked?: boolean;
}

/**
 * One request over plain HTTP with full control of headers and body (no keep-alive). Resolves with the answer even
 * when the server closes the connection while the body is still being sent (as after a 413).
 */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined && !req.chunked) headers['content-length'] = String(Buffer.byteLength(req.body));
    let answered = false;
    const request = http.request(new URL(req.path, baseUrl), { method: req.method, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => undefined);
      res.on('close', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    request.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (req.chunked && req.body !== undefined) {
      const body = Buffer.from(req.body);
      const step = 16 * 1024;
      for (let offset = 0; offset < body.length; offset += step) request.write(body.subarray(offset, offset + step));
      request.end();
    } else {
      request.end(req.body);
    }
  });
}

/** Awaits a call that must fail with an ApiError of `status` whose message matches `message` (and names `field`). */
export async function expectApiError(
  call: Promise<unknown>,
  status: number,
  message: RegExp,
  field?: string,
): Promise<ApiError> {
  let caught: unknown;
  try {
    await call;
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof ApiError,
    `expected an ApiError ${status}, got ${caught === undefined ? 'success' : String(caught)}`,
  );
  assert.equal(caught.status, status, `status for: ${caught.message}`);
  assert.match(caught.message, message);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}
