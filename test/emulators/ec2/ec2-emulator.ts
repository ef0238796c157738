import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock, type Clock } from '../../../src/core/clock.ts';
import { CatalogActions } from './catalog-actions.ts';
import { DEFAULT_INSTANCE_TYPES, DEFAULT_SPOT_PRICES_USD, type EmulatedInstanceType } from './catalog.ts';
import { Ec2Fault } from './ec2-fault.ts';
import {
  Ec2World,
  type Admit,
  type EmulatedLaunchTemplate,
  type EmulatedSubnet,
  type ForeignInstanceSpec,
} from './ec2-world.ts';
import { FOREIGN_CLUSTER, htmlErrorPage, type Realism } from '../realism.ts';
import { AccountBuckets, EC2_BUCKETS, type BucketName, type BucketSpec } from './emulator-buckets.ts';
import type { EmulatedInstance } from './emulated-instance.ts';
import { FaultQueue, type Fault } from './faults.ts';
import { InstanceProcesses, type BootScriptOptions } from './instance-processes.ts';
import { METADATA_PREFIX, MetadataService } from './metadata-service.ts';
import { QueryParams } from './query.ts';
import { errorXml, responseXml, type Xml } from './xml.ts';

/** The access key the emulator accepts unless told otherwise; tests give the SDK exactly these. */
export const EMULATOR_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIAEMULATOR00000001',
  secretAccessKey: 'emulator-secret-access-key-not-a-real-one',
});

export const DEFAULT_SUBNETS: readonly EmulatedSubnet[] = [
  { id: 'subnet-0a000000000000001', zone: 'us-east-1a' },
  { id: 'subnet-0b000000000000002', zone: 'us-east-1b' },
];

export const DEFAULT_LAUNCH_TEMPLATE: EmulatedLaunchTemplate = {
  id: 'lt-0123456789abcdef0',
  name: 'spillway-agents',
  imageId: 'ami-0e0000000000emu01',
};

export interface Ec2EmulatorOptions {
  /** The emulator's time: pending -> running, buckets, interruptions. Default the system clock; tests may step one. */
  readonly clock?: Clock;
  readonly region?: string;
  readonly subnets?: readonly EmulatedSubnet[];
  readonly launchTemplates?: readonly EmulatedLaunchTemplate[];
  readonly instanceTypes?: readonly EmulatedInstanceType[];
  /** Spot prices set in every zone at start. */
  readonly spotPricesUsd?: Readonly<Record<string, number>>;
  readonly accessKeyIds?: readonly string[];
  /** EC2's buckets; `false` switches throttling off. Default the documented buckets. */
  readonly buckets?: Record<BucketName, BucketSpec> | false;
  /** Pending -> running; default 200 ms. */
  readonly bootMs?: number;
  /** Shutting-down -> terminated after the processes stop; default 0. */
  readonly shutdownMs?: number;
  readonly terminatedVisibleMs?: number;
  readonly quotas?: { readonly maxInstances?: number; readonly maxOnDemandVcpus?: number };
  /** Run each instance's user data as a local process when it starts running. Off unless given. */
  readonly bootScripts?: BootScriptOptions;
  /** Adversarial modes (filters ignored, eventual consistency, tokens ignored, bare or HTML errors); default none. */
  readonly realism?: Realism;
  /**
   * The IPv4 address to listen on; default 127.0.0.1. Controllers in network namespaces cannot reach the host's
   * loopback: they reach the emulator on a bridge address (test/helpers/netns-lab.ts).
   */
  readonly host?: string;
}

/** One API call as the emulator saw it. */
export interface CallRecord {
  readonly action: string;
  readonly status: number;
  readonly code: string | undefined;
  readonly atMs: number;
  /** False when a fault stopped the call before it took effect. */
  readonly effective: boolean;
  /** RunInstances: the UserData parameter as sent (base64), to compare a retry's bytes with the first call's. */
  readonly userData?: string | undefined;
}

/**
 * A wire-level EC2 emulator for tests and benchmarks: an HTTP server speaking the EC2 Query API (form-encoded
 * requests, XML answers, EC2's error document) for RunInstances, TerminateInstances, DescribeInstances,
 * DescribeInstanceTypes and DescribeSpotPriceHistory, with EC2's documented behaviour (see ec2-world.ts), its token
 * buckets, SigV4 access key checks, injected faults, spot interruptions and an IMDSv2 metadata service per instance.
 * A test fixture only: never the product's default.
 */
export class Ec2Emulator {
  readonly url: string;
  readonly region: string;
  readonly clock: Clock;
  readonly calls: CallRecord[] = [];
  readonly metadata: MetadataService;
  readonly #server: http.Server;
  readonly #world: Ec2World;
  readonly #catalog: CatalogActions;
  readonly #buckets: AccountBuckets;
  readonly #faults = new FaultQueue();
  readonly #processes: InstanceProcesses | undefined;
  readonly #accessKeys: Set<string>;
  readonly #realism: Realism;
  readonly #denied = new Set<string>();
  /** Aborted by close: ends every pending boot, shutdown and interruption. */
  readonly #life = new AbortController();
  #open = 0;

  private constructor(server: http.Server, url: string, opts: Ec2EmulatorOptions) {
    this.#server = server;
    this.url = url;
    this.region = opts.region ?? 'us-east-1';
    this.clock = opts.clock ?? systemClock;
    const subnets = opts.subnets ?? DEFAULT_SUBNETS;
    const types = opts.instanceTypes ?? DEFAULT_INSTANCE_TYPES;
    this.#accessKeys = new Set(opts.accessKeyIds ?? [EMULATOR_CREDENTIALS.accessKeyId]);
    this.#realism = opts.realism ?? {};
    this.#buckets = new AccountBuckets(this.clock, opts.buckets === false ? undefined : (opts.buckets ?? EC2_BUCKETS));
    this.#processes = opts.bootScripts ? new InstanceProcesses(opts.bootScripts) : undefined;
    this.#world = new Ec2World({
      clock: this.clock,
      subnets,
      launchTemplates: opts.launchTemplates ?? [DEFAULT_LAUNCH_TEMPLATE],
      instanceTypes: types,
      bootMs: opts.bootMs ?? 200,
      shutdownMs: opts.shutdownMs ?? 0,
      terminatedVisibleMs: opts.terminatedVisibleMs ?? 3_600_000,
      quotas: opts.quotas ?? {},
      onRunning: (i) =>
        this.#processes?.start(i.id, Buffer.from(i.userData, 'base64').toString('utf8'), this.metadataUrl(i.id)),
      onShuttingDown: async (i) => this.#processes?.stop(i.id),
      signal: this.#life.signal,
      realism: this.#realism,
    });
    this.#catalog = new CatalogActions(this.clock, types, [...new Set(subnets.map((s) => s.zone))]);
    for (const [type, usd] of Object.entries(opts.spotPricesUsd ?? DEFAULT_SPOT_PRICES_USD)) {
      for (const s of subnets) this.#catalog.setSpotPrice(type, s.zone, usd);
    }
    this.metadata = new MetadataService(this.clock, (id) => this.#world.instance(id), this.region);
    if (this.#realism.foreignInstances) {
      const instanceType = types[0]!.instanceType;
      for (const zone of new Set(subnets.map((s) => s.zone))) {
        this.#world.addForeign({ instanceType, zone, tags: { 'spillway.io/cluster': FOREIGN_CLUSTER, Name: 'web' } });
        this.#world.addForeign({ instanceType, zone });
      }
    }
  }

  static async start(opts: Ec2EmulatorOptions = {}): Promise<Ec2Emulator> {
    const server = http.createServer();
    const host = opts.host ?? '127.0.0.1';
    server.listen(0, host);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const emulator = new Ec2Emulator(server, `http://${host}:${port}`, opts);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void emulator.handle(req, res));
    return emulator;
  }

  /** The metadata service base URL of one instance (what `SPILLWAY_METADATA_URL` is set to on it). */
  metadataUrl(instanceId: string): string {
    return `${this.url}${METADATA_PREFIX}${instanceId}`;
  }

  instances(): EmulatedInstance[] {
    return this.#world.instances();
  }

  instance(id: string): EmulatedInstance | undefined {
    return this.#world.instance(id);
  }

  /** Instances not shutting down or terminated. */
  liveInstances(): EmulatedInstance[] {
    return this.instances().filter((i) => i.state !== 'shutting-down' && i.state !== 'terminated');
  }

  /** An instance of another workload in the account (another cluster's tags, or none); never launched by the adapter. */
  addForeignInstance(spec: ForeignInstanceSpec): EmulatedInstance {
    return this.#world.addForeign(spec);
  }

  setCapacity(instanceType: string, zone: string, lifecycle: 'on-demand' | 'spot', instances: number): void {
    this.#world.setCapacity(instanceType, zone, lifecycle, instances);
  }

  setUnsupported(instanceType: string, zone: string): void {
    this.#world.setUnsupported(instanceType, zone);
  }

  setSpotPrice(instanceType: string, zone: string, usd: number): void {
    this.#catalog.setSpotPrice(instanceType, zone, usd);
  }

  /** Turns termination protection (`disableApiTermination`) on or off for an instance. */
  protect(instanceId: string, on = true): void {
    const instance = this.#world.instance(instanceId);
    if (!instance) throw new Error(`protecting ${instanceId}: no such instance`);
    instance.disableApiTermination = on;
  }

  /** Calls of `action` answer UnauthorizedOperation until allowed again. */
  deny(action: string): void {
    this.#denied.add(action);
  }

  allow(action: string): void {
    this.#denied.delete(action);
  }

  injectFault(fault: Fault): void {
    this.#faults.add(fault);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /**
   * Schedules a spot interruption: `spot/instance-action` announces termination `noticeMs` ahead (EC2: two minutes),
   * and then the instance is terminated with `Server.SpotInstanceTermination`.
   */
  interrupt(instanceId: string, noticeMs = 120_000): void {
    const instance = this.#world.instance(instanceId);
    if (!instance || instance.lifecycle !== 'spot')
      throw new Error(`interrupting ${instanceId}: not a live spot instance`);
    instance.interruption = { action: 'terminate', timeMs: this.clock.now() + noticeMs };
    this.clock.sleep(noticeMs, { signal: this.#life.signal }).then(
      () =>
        this.#world.shutDown(instance, {
          code: 'Server.SpotInstanceTermination',
          message: 'Server.SpotInstanceTermination: Spot instance termination',
        }),
      () => undefined,
    );
  }

  /** Calls answered with `code` (RequestLimitExceeded, ...). */
  callsWith(code: string): CallRecord[] {
    return this.calls.filter((c) => c.code === code);
  }

  /** Requests received and not answered yet. */
  openRequests(): number {
    return this.#open;
  }

  /** Where an instance's boot script writes its output. */
  instanceLogPath(instanceId: string): string | undefined {
    return this.#processes?.logPath(instanceId);
  }

  /** Kills every instance process and closes the server. */
  async close(): Promise<void> {
    this.#life.abort();
    this.#processes?.killAll();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close').catch(() => undefined);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.metadata.handles(req.url ?? '')) return this.metadata.serve(req, res);
    this.#open++;
    const requestId = randomUUID();
    let action = '';
    let effective = false;
    let userData: string | undefined;
    try {
      const body = await readBody(req);
      const q = new QueryParams(body);
      action = q.action;
      if (action === 'RunInstances') userData = q.string('UserData');
      const fault = this.#faults.take(action);
      if (fault?.kind === 'latency') await delay(fault.latencyMs ?? 1_000);
      if (fault?.kind === 'drop')
        return this.#record(action, 0, undefined, false, () => req.socket.destroy(), userData);
      if (fault?.kind === 'error') {
        throw new Ec2Fault(
          fault.code ?? 'InternalError',
          fault.message ?? 'An internal error has occurred',
          fault.status,
        );
      }
      this.#authorize(req, action);
      const members = this.#act(q, (needs) => this.#buckets.tryTake(needs));
      effective = true;
      if (fault?.kind === 'lose-response')
        return this.#record(action, 0, undefined, true, () => req.socket.destroy(), userData);
      const xml = responseXml(action, requestId, members);
      this.#record(
        action,
        200,
        undefined,
        true,
        () => {
          res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(xml) });
          res.end(xml);
        },
        userData,
      );
    } catch (err) {
      const fault =
        err instanceof Ec2Fault
          ? err
          : new Ec2Fault('InternalError', `An internal error has occurred (${String(err)})`);
      const html = fault.status >= 500 && this.#realism.htmlServerErrors;
      const bare = !html && this.#realism.bareErrors;
      const body = html ? htmlErrorPage(fault.status) : bare ? '' : errorXml(fault.code, fault.message, requestId);
      this.#record(
        action,
        fault.status,
        fault.code,
        effective,
        () => {
          res.writeHead(fault.status, {
            'content-type': html ? 'text/html; charset=UTF-8' : 'text/xml;charset=UTF-8',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        },
        userData,
      );
    } finally {
      this.#open--;
    }
  }

  #act(q: QueryParams, admit: Admit): Xml[] {
    switch (q.action) {
      case 'RunInstances':
        return this.#world.runInstances(q, admit);
      case 'TerminateInstances':
        return this.#world.terminateInstances(q, admit);
      case 'DescribeInstances':
        return this.#world.describeInstances(q, admit);
      case 'DescribeInstanceTypes':
        return this.#catalog.describeInstanceTypes(q, admit);
      case 'DescribeSpotPriceHistory':
        return this.#catalog.describeSpotPriceHistory(q, admit);
      default:
        throw new Ec2Fault('InvalidAction', `The action ${q.action || '(none)'} is not valid for this web service.`);
    }
  }

  /** SigV4's access key and credential scope, as EC2 checks them (the signature itself is not verified). */
  #authorize(req: IncomingMessage, action: string): void {
    const header = String(req.headers.authorization ?? '');
    const scope = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(header);
    if (!scope) throw new Ec2Fault('MissingAuthenticationToken', 'Request is missing Authentication Token');
    const [, accessKeyId, region, service] = scope;
    if (!this.#accessKeys.has(accessKeyId!)) {
      throw new Ec2Fault('AuthFailure', 'AWS was not able to validate the provided access credentials');
    }
    if (region !== this.region || service !== 'ec2') {
      throw new Ec2Fault('AuthFailure', `Credential should be scoped to a valid region, not '${region}'.`);
    }
    if (this.#denied.has(action)) {
      throw new Ec2Fault(
        'UnauthorizedOperation',
        `You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/spillway is not ` +
          `authorized to perform: ec2:${action} because no identity-based policy allows the ec2:${action} action. ` +
          `Encoded authorization failure message: ${Buffer.from(`denied ${action}`).toString('base64')}`,
      );
    }
  }

  #record(
    action: string,
    status: number,
    code: string | undefined,
    effective: boolean,
    answer: () => void,
    userData?: string,
  ): void {
    this.calls.push({
      action,
      status,
      code,
      atMs: this.clock.now(),
      effective,
      ...(userData === undefined ? {} : { userData }),
    });
    answer();
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4 * 1024 * 1024) throw new Ec2Fault('RequestEntityTooLarge', 'Request too large', 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
