import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock, type Clock } from '../../../src/core/clock.ts';
import { FaultQueue, type Fault } from '../ec2/faults.ts';
import { InstanceProcesses, type BootScriptOptions } from '../ec2/instance-processes.ts';
import { GceFault, invalid } from './gce-fault.ts';
import {
  DEFAULT_MACHINE_TYPES,
  instanceJson,
  type EmulatedGceInstance,
  type EmulatedMachineType,
} from './gce-instance.ts';
import { GCE_CERTS_PATH, GCE_METADATA_PREFIX, GceMetadataServer } from './gce-metadata.ts';
import { operationJson } from './gce-operations.ts';
import { RateQuotas, type RateQuotaGroup } from './gce-rate-quotas.ts';
import { GceWorld, type ForeignGceInstanceSpec, type GceQuotas } from './gce-world.ts';
import { FOREIGN_CLUSTER, htmlErrorPage, type Realism } from '../realism.ts';
import { newInstancesOf } from './gce-requests.ts';

/** The access token the emulator accepts unless told otherwise; tests give the SDK exactly this one. */
export const EMULATOR_ACCESS_TOKEN = 'ya29.emulator-access-token-not-a-real-one';
export const DEFAULT_PROJECT = 'spillway-emulated';
export const DEFAULT_ZONES = ['us-central1-a', 'us-central1-b'] as const;
export const DEFAULT_TEMPLATE = 'spillway-agents';

/** A fault of the GCE emulator: an `error` may name the ErrorInfo reason of its answer (`rateLimitExceeded` only). */
export interface GceInjectedFault extends Fault {
  readonly errorInfoReason?: string;
}

export interface GceEmulatorOptions {
  /** The emulator's time: boots, request ids, rate quotas, preemption notices. Default the system clock. */
  readonly clock?: Clock;
  readonly project?: string;
  readonly zones?: readonly string[];
  readonly machineTypes?: readonly EmulatedMachineType[];
  /** Global instance template names that exist. */
  readonly templates?: readonly string[];
  readonly accessTokens?: readonly string[];
  /** Requests per minute per quota group; `false` switches rate quotas off. Default 1,500 each (the documented). */
  readonly rateQuotas?: Readonly<Record<RateQuotaGroup, number>> | false;
  /** PROVISIONING -> RUNNING; default 200 ms. */
  readonly bootMs?: number;
  /** How long requestIds are remembered; default one hour. */
  readonly requestIdTtlMs?: number;
  readonly quotas?: GceQuotas;
  /** Run each instance's `startup-script` as a local process when it starts running. Off unless given. */
  readonly bootScripts?: BootScriptOptions;
  /** Adversarial modes (filters ignored, eventual consistency, request ids ignored, bare or HTML errors). */
  readonly realism?: Realism;
}

/** One API call as the emulator saw it. */
export interface GceCallRecord {
  /** `insert`, `bulkInsert`, `delete`, `list`, `wait`, `get`. */
  readonly action: string;
  readonly status: number;
  /** The legacy error reason of an error answer. */
  readonly reason: string | undefined;
  readonly atMs: number;
  /** False when a fault stopped the call before it took effect. */
  readonly effective: boolean;
  readonly requestId: string | null;
  /** insert and bulkInsert: the request body as sent, to compare a retry's bytes with the first call's. */
  readonly body?: string | undefined;
}

/** The permission each action needs; `deny` makes it answer 403 IAM_PERMISSION_DENIED naming it. */
const PERMISSION: Readonly<Record<string, string>> = {
  insert: 'compute.instances.create',
  bulkInsert: 'compute.instances.create',
  delete: 'compute.instances.delete',
  list: 'compute.instances.list',
  wait: 'compute.zoneOperations.get',
  get: 'compute.zoneOperations.get',
};

const GROUP: Readonly<Record<string, RateQuotaGroup>> = {
  insert: 'mutations',
  bulkInsert: 'mutations',
  delete: 'mutations',
  list: 'lists',
  wait: 'operationReads',
  get: 'operationReads',
};

/**
 * A wire-level Compute Engine emulator for tests: an HTTP server speaking the Compute REST API v1 (JSON, Google's
 * error body) for instances.insert, bulkInsert, delete and list, and zoneOperations.get and wait, with GCE's
 * documented behaviour (see gce-world.ts): requestId deduplication for a limited time, label filters, pagination,
 * capacity pools and quotas failing the operation, per-minute rate quotas (403 rateLimitExceeded), bearer token
 * checks, denied permissions, injected faults, Spot preemption, and a metadata server per instance. Instances run
 * their `startup-script` as local processes. A test fixture only: never the product's default.
 */
export class GceEmulator {
  readonly url: string;
  readonly port: number;
  readonly project: string;
  readonly clock: Clock;
  readonly calls: GceCallRecord[] = [];
  readonly metadata: GceMetadataServer;
  readonly #server: http.Server;
  readonly #world: GceWorld;
  readonly #quotas: RateQuotas | undefined;
  readonly #faults = new FaultQueue<GceInjectedFault>();
  readonly #processes: InstanceProcesses | undefined;
  readonly #tokens: Set<string>;
  readonly #denied = new Set<string>();
  readonly #life = new AbortController();
  readonly #realism: Realism;
  #open = 0;

  private constructor(server: http.Server, port: number, opts: GceEmulatorOptions) {
    this.#server = server;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.project = opts.project ?? DEFAULT_PROJECT;
    this.clock = opts.clock ?? systemClock;
    this.#tokens = new Set(opts.accessTokens ?? [EMULATOR_ACCESS_TOKEN]);
    this.#realism = opts.realism ?? {};
    this.#quotas = opts.rateQuotas === false ? undefined : new RateQuotas(this.clock, opts.rateQuotas);
    this.#processes = opts.bootScripts ? new InstanceProcesses(opts.bootScripts) : undefined;
    // Instance ids are `zone/name`: each instance's log goes to `<logDir>/<zone>/<name>.log`.
    for (const zone of opts.zones ?? DEFAULT_ZONES)
      if (opts.bootScripts) mkdirSync(join(opts.bootScripts.logDir, zone), { recursive: true });
    this.#world = new GceWorld({
      clock: this.clock,
      zones: opts.zones ?? DEFAULT_ZONES,
      machineTypes: opts.machineTypes ?? DEFAULT_MACHINE_TYPES,
      templates: (opts.templates ?? [DEFAULT_TEMPLATE]).map(
        (t) => `projects/${this.project}/global/instanceTemplates/${t}`,
      ),
      bootMs: opts.bootMs ?? 200,
      requestIdTtlMs: opts.requestIdTtlMs ?? 3_600_000,
      quotas: opts.quotas ?? {},
      onRunning: (i) =>
        this.#processes?.start(this.instanceId(i), i.metadata.get('startup-script') ?? '', this.metadataUrl(i)),
      onStopping: async (i) => this.#processes?.stop(this.instanceId(i)),
      signal: this.#life.signal,
      realism: this.#realism,
    });
    this.metadata = new GceMetadataServer((zone, name) => this.#world.instance(zone, name), this.clock, this.project);
    if (this.#realism.foreignInstances) {
      const machineType = (opts.machineTypes ?? DEFAULT_MACHINE_TYPES)[0]!.name;
      for (const zone of opts.zones ?? DEFAULT_ZONES) {
        const labels = { 'spillway-cluster': FOREIGN_CLUSTER };
        this.#world.addForeign({ zone, name: `web-${zone.slice(-1)}`, machineType, labels });
        this.#world.addForeign({ zone, name: `db-${zone.slice(-1)}`, machineType });
      }
    }
  }

  static async start(opts: GceEmulatorOptions = {}): Promise<GceEmulator> {
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const emulator = new GceEmulator(server, port, opts);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void emulator.handle(req, res));
    return emulator;
  }

  /** The URL of the emulator's token-signing certificates (a gcp-compute provider's `identity.certificatesUrl`). */
  get certificatesUrl(): string {
    return `${this.url}${GCE_CERTS_PATH}`;
  }

  /** Spillway's id of an instance: `zone/name`. */
  instanceId(i: EmulatedGceInstance): string {
    return `${i.zone}/${i.name}`;
  }

  /** The metadata server base URL of one instance (what `SPILLWAY_METADATA_URL` is set to on it). */
  metadataUrl(i: EmulatedGceInstance): string {
    return `${this.url}${GCE_METADATA_PREFIX}${i.zone}/${i.name}`;
  }

  /** Instances not deleted (running, provisioning, stopping or stopped). */
  instances(): EmulatedGceInstance[] {
    return this.#world.instances();
  }

  /** Every instance ever created, deleted ones too. */
  history(): EmulatedGceInstance[] {
    return this.#world.history();
  }

  /** Instances neither deleted nor stopping. */
  liveInstances(): EmulatedGceInstance[] {
    return this.instances().filter((i) => i.status !== 'STOPPING' && i.status !== 'TERMINATED');
  }

  instance(id: string): EmulatedGceInstance | undefined {
    const [zone = '', name = ''] = id.split('/');
    return this.#world.instance(zone, name);
  }

  /** An instance of another workload in the project (another cluster's labels, or none); never the adapter's. */
  addForeignInstance(spec: ForeignGceInstanceSpec): EmulatedGceInstance {
    return this.#world.addForeign(spec);
  }

  setCapacity(machineType: string, zone: string, lifecycle: 'on-demand' | 'spot', instances: number): void {
    this.#world.setCapacity(machineType, zone, lifecycle, instances);
  }

  /** Turns deletion protection on or off for an instance (`zone/name`). */
  protect(id: string, on = true): void {
    const instance = this.instance(id);
    if (!instance) throw new Error(`protecting ${id}: no such instance`);
    instance.deletionProtection = on;
  }

  /** Calls needing `permission` answer 403 IAM_PERMISSION_DENIED until allowed again. */
  deny(permission: string): void {
    this.#denied.add(permission);
  }

  allow(permission: string): void {
    this.#denied.delete(permission);
  }

  /** Faults by action (`insert`, `bulkInsert`, `delete`, `list`, `wait`); an `error` fault's `code` is the legacy reason. */
  injectFault(fault: GceInjectedFault): void {
    this.#faults.add(fault);
  }

  /**
   * Preempts a Spot instance: `instance/preempted` turns TRUE at once (waking `wait_for_change` watchers), and after
   * `noticeMs` (GCE: 30 s) the instance is stopped, and deleted when its termination action is DELETE.
   */
  preempt(id: string, noticeMs = 30_000): void {
    const instance = this.instance(id);
    if (!instance || !instance.spot) throw new Error(`preempting ${id}: not a live Spot instance`);
    instance.preempted = true;
    instance.metadataVersion++;
    this.metadata.changed();
    this.clock.sleep(noticeMs, { signal: this.#life.signal }).then(
      () => this.#world.stop(instance, instance.terminationAction === 'DELETE'),
      () => undefined,
    );
  }

  callsOf(action: string): GceCallRecord[] {
    return this.calls.filter((c) => c.action === action);
  }

  openRequests(): number {
    return this.#open;
  }

  instanceLogPath(id: string): string | undefined {
    return this.#processes?.logPath(id);
  }

  async close(): Promise<void> {
    this.#life.abort();
    this.metadata.closeAll();
    this.#processes?.killAll();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close').catch(() => undefined);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.metadata.handles(req.url ?? '')) return this.metadata.serve(req, res);
    if (req.url === GCE_CERTS_PATH) {
      const body = this.metadata.certificatesJson();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    this.#open++;
    const url = new URL(req.url ?? '/', this.url);
    const route = routeOf(req.method ?? 'GET', url.pathname);
    const action = route?.action ?? 'unknown';
    const requestId = url.searchParams.get('requestId');
    let effective = false;
    let sent: string | undefined;
    const record = (status: number, reason: string | undefined, answer: () => void): void => {
      this.calls.push({ action, status, reason, atMs: this.clock.now(), effective, requestId, body: sent });
      answer();
    };
    try {
      const body = await readJson(req);
      if (action === 'insert' || action === 'bulkInsert') sent = JSON.stringify(body);
      const fault = this.#faults.take(action);
      if (fault?.kind === 'latency') await delay(fault.latencyMs ?? 1_000);
      if (fault?.kind === 'drop') return record(0, undefined, () => req.socket.destroy());
      if (fault?.kind === 'error')
        throw new GceFault(
          fault.status ?? 503,
          fault.code ?? 'backendError',
          fault.message ?? 'Internal error. Please try again.',
          fault.errorInfoReason === undefined ? {} : { errorInfoReason: fault.errorInfoReason },
        );
      if (!route) throw new GceFault(404, 'notFound', `No such method: ${req.method} ${url.pathname}`);
      this.#authorize(req, action);
      if (route.project !== this.project)
        throw new GceFault(404, 'notFound', `The resource 'projects/${route.project}' was not found`);
      if (this.#quotas && !this.#quotas.tryTake(GROUP[action]!)) {
        throw new GceFault(
          403,
          'rateLimitExceeded',
          `Quota exceeded for quota metric '${GROUP[action]}' and limit '${GROUP[action]} per minute' of service 'compute.googleapis.com' for consumer 'project_number:123456789012'.`,
          { quota_metric: `compute.googleapis.com/${GROUP[action]}` },
        );
      }
      const answer = this.#act(route, url, body);
      effective = true;
      if (fault?.kind === 'lose-response') return record(0, undefined, () => req.socket.destroy());
      const json = JSON.stringify(answer);
      record(200, undefined, () => {
        res.writeHead(200, {
          'content-type': 'application/json; charset=UTF-8',
          'content-length': Buffer.byteLength(json),
        });
        res.end(json);
      });
    } catch (err) {
      const fault =
        err instanceof GceFault ? err : new GceFault(500, 'backendError', `Internal error (${String(err)})`);
      const html = fault.status >= 500 && this.#realism.htmlServerErrors;
      const body = html ? htmlErrorPage(fault.status) : this.#realism.bareErrors ? fault.bareBody() : fault.body();
      record(fault.status, fault.reason, () => {
        res.writeHead(fault.status, {
          'content-type': html ? 'text/html; charset=UTF-8' : 'application/json; charset=UTF-8',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      });
    } finally {
      this.#open--;
    }
  }

  #act(route: Route, url: URL, body: Record<string, unknown>): unknown {
    const { zone } = route;
    const requestId = url.searchParams.get('requestId');
    const op = (o: ReturnType<GceWorld['create']>): Record<string, unknown> => {
      // The answer shows the operation as it started; it is DONE right after, so clients must wait on it.
      const started = operationJson(
        { ...o, status: 'RUNNING', error: undefined, endTimeMs: undefined },
        this.project,
        this.url,
      );
      if (o.status !== 'DONE') {
        o.status = 'DONE';
        o.endTimeMs = this.clock.now();
      }
      return started;
    };
    switch (route.action) {
      case 'insert': {
        const template = url.searchParams.get('sourceInstanceTemplate') ?? '';
        return op(this.#world.create(zone, requestId, template, newInstancesOf(body, template, 'insert'), 'insert'));
      }
      case 'bulkInsert': {
        const template = String(body.sourceInstanceTemplate ?? '');
        return op(
          this.#world.create(zone, requestId, template, newInstancesOf(body, template, 'bulkInsert'), 'bulkInsert'),
        );
      }
      case 'delete':
        return op(this.#world.delete(zone, route.name!, requestId));
      case 'list': {
        const page = this.#world.list(zone, url.searchParams);
        return {
          kind: 'compute#instanceList',
          id: `projects/${this.project}/zones/${zone}/instances`,
          items: page.items.map((i) => instanceJson(i, this.project, this.url)),
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
        };
      }
      case 'wait':
      case 'get':
        return operationJson(this.#world.operation(zone, route.name!), this.project, this.url);
      default:
        throw invalid(`unsupported action ${route.action}`);
    }
  }

  #authorize(req: IncomingMessage, action: string): void {
    const match = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
    if (!match)
      throw new GceFault(
        401,
        'required',
        'Request is missing required authentication credential. Expected OAuth 2 access token.',
      );
    if (!this.#tokens.has(match[1]!))
      throw new GceFault(
        401,
        'authError',
        'Request had invalid authentication credentials. Expected OAuth 2 access token.',
      );
    const permission = PERMISSION[action];
    if (permission && this.#denied.has(permission)) {
      throw new GceFault(403, 'forbidden', `Required '${permission}' permission for 'projects/${this.project}'`, {
        permission,
        resource: `projects/${this.project}`,
      });
    }
  }
}

interface Route {
  readonly action: string;
  readonly project: string;
  readonly zone: string;
  readonly name?: string;
}

function routeOf(method: string, path: string): Route | undefined {
  const m =
    /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/(instances|operations)(?:\/([^/]+))?(?:\/(wait))?$/.exec(path);
  if (!m) return undefined;
  const [, project = '', zone = '', kind, name, wait] = m;
  if (kind === 'instances') {
    if (method === 'POST' && name === undefined) return { action: 'insert', project, zone };
    if (method === 'POST' && name === 'bulkInsert') return { action: 'bulkInsert', project, zone };
    if (method === 'GET' && name === undefined) return { action: 'list', project, zone };
    if (method === 'DELETE' && name !== undefined) return { action: 'delete', project, zone, name };
    return undefined;
  }
  if (name === undefined) return undefined;
  if (method === 'POST' && wait) return { action: 'wait', project, zone, name };
  if (method === 'GET' && !wait) return { action: 'get', project, zone, name };
  return undefined;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4 * 1024 * 1024) throw new GceFault(413, 'requestTooLarge', 'Request too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new GceFault(400, 'parseError', 'Parse Error');
  }
}
