import { randomBytes } from 'node:crypto';
import type { Clock } from '../../../src/core/clock.ts';
import type { EmulatedInstanceType } from './catalog.ts';
import { Ec2Fault } from './ec2-fault.ts';
import { instanceXml, isLive, stateChangeXml, type EmulatedInstance } from './emulated-instance.ts';
import type { BucketName } from './emulator-buckets.ts';
import { instanceFilter } from './instance-filters.ts';
import {
  checkQuotas,
  launchTemplateOf,
  subnetOf,
  type EmulatedLaunchTemplate,
  type EmulatedSubnet,
} from './launch-checks.ts';
import { page } from './paging.ts';
import { tokenHonoured, type Realism } from '../realism.ts';
import type { QueryParams } from './query.ts';
import { el, itemSet, type Xml } from './xml.ts';

export type { EmulatedLaunchTemplate, EmulatedSubnet } from './launch-checks.ts';

export interface WorldOptions {
  readonly clock: Clock;
  readonly subnets: readonly EmulatedSubnet[];
  readonly launchTemplates: readonly EmulatedLaunchTemplate[];
  readonly instanceTypes: readonly EmulatedInstanceType[];
  /** Pending -> running after this long on the clock. */
  readonly bootMs: number;
  /** Shutting-down -> terminated this long after the instance's processes stopped. */
  readonly shutdownMs: number;
  /** How long terminated instances stay visible (EC2: about an hour). */
  readonly terminatedVisibleMs: number;
  readonly quotas: { readonly maxInstances?: number; readonly maxOnDemandVcpus?: number };
  readonly onRunning: (instance: EmulatedInstance) => void;
  /** Stops the instance's processes; the instance is terminated after. */
  readonly onShuttingDown: (instance: EmulatedInstance) => Promise<void>;
  /** Cancels every pending transition (the emulator closes). */
  readonly signal: AbortSignal;
  /** How adversarial lists and tokens are (see realism.ts); default none of it. */
  readonly realism?: Realism;
}

/** An instance someone else launched in the account: another cluster's, or nobody's (no tags). */
export interface ForeignInstanceSpec {
  readonly instanceType: string;
  readonly zone: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly state?: 'pending' | 'running';
}

/** Takes tokens from the account's buckets, all or none; false means the call is throttled. */
export type Admit = (needs: ReadonlyArray<readonly [BucketName, number]>) => boolean;

interface Reservation {
  readonly id: string;
  readonly instanceIds: readonly string[];
}

const OWNER_ID = '123456789012';
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

function hexId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

function pool(instanceType: string, zone: string, lifecycle: string): string {
  return `${instanceType}/${zone}/${lifecycle}`;
}

/**
 * The EC2 account the emulator serves: instances, reservations, client tokens, capacity pools and quotas, on the
 * emulator's clock. Actions return the XML members of their answer or throw Ec2Fault.
 */
export class Ec2World {
  readonly #o: WorldOptions;
  readonly #instances = new Map<string, EmulatedInstance>();
  readonly #reservations = new Map<string, Reservation>();
  readonly #tokens = new Map<string, { readonly key: string; readonly reservationId: string; readonly atMs: number }>();
  readonly #capacity = new Map<string, number>();
  readonly #unsupported = new Set<string>();
  #nextIp = 10;

  constructor(opts: WorldOptions) {
    this.#o = opts;
  }

  /** Instances a pool (type, zone, lifecycle) may still start; unlimited unless set. */
  setCapacity(instanceType: string, zone: string, lifecycle: 'on-demand' | 'spot', instances: number): void {
    this.#capacity.set(pool(instanceType, zone, lifecycle), instances);
  }

  /** Makes RunInstances answer `Unsupported` for the type in the zone. */
  setUnsupported(instanceType: string, zone: string): void {
    this.#unsupported.add(`${instanceType}/${zone}`);
  }

  instance(id: string): EmulatedInstance | undefined {
    return this.#visible().find((i) => i.id === id);
  }

  instances(): EmulatedInstance[] {
    return this.#visible();
  }

  runInstances(q: QueryParams, admit: Admit): Xml[] {
    const minCount = q.integer('MinCount');
    const maxCount = q.integer('MaxCount');
    if (minCount === undefined)
      throw new Ec2Fault('MissingParameter', 'The request must contain the parameter MinCount');
    if (maxCount === undefined)
      throw new Ec2Fault('MissingParameter', 'The request must contain the parameter MaxCount');
    if (minCount < 1 || maxCount < minCount) {
      throw new Ec2Fault('InvalidParameterValue', `Invalid MinCount ${minCount} and MaxCount ${maxCount}`);
    }
    const token = q.string('ClientToken');
    if (token !== undefined && (token.length > 64 || !/^[\x20-\x7e]*$/.test(token))) {
      throw new Ec2Fault('InvalidParameterValue', 'The client token must be at most 64 ASCII characters');
    }
    const key = q.canonicalKey();
    const remembered = token === undefined ? undefined : this.#tokens.get(token);
    const honoured = remembered && tokenHonoured(this.#o.realism ?? {}, remembered.atMs, this.#o.clock.now());
    const earlier = honoured ? remembered : undefined;
    if (earlier) {
      if (earlier.key !== key) {
        throw new Ec2Fault(
          'IdempotentParameterMismatch',
          `Arguments on this idempotent request are inconsistent with arguments used in previous request(s).`,
        );
      }
      if (!admit([['runInstancesRequests', 1]])) throw throttled();
      return this.#reservationXml(this.#reservations.get(earlier.reservationId)!);
    }

    const template = launchTemplateOf(q, this.#o.launchTemplates);
    const instanceType = q.string('InstanceType') ?? '';
    const type = this.#o.instanceTypes.find((t) => t.instanceType === instanceType);
    if (!type) throw new Ec2Fault('InvalidParameterValue', `Invalid value '${instanceType}' for InstanceType.`);
    const subnet = subnetOf(q, this.#o.subnets);
    const spot = q.string('InstanceMarketOptions.MarketType') === 'spot';
    const lifecycle = spot ? 'spot' : 'on-demand';
    if (this.#unsupported.has(`${instanceType}/${subnet.zone}`)) {
      throw new Ec2Fault(
        'Unsupported',
        `Your requested instance type (${instanceType}) is not supported in your requested Availability Zone (${subnet.zone}).`,
      );
    }
    checkQuotas({
      instances: this.#instances.values(),
      types: this.#o.instanceTypes,
      quotas: this.#o.quotas,
      type,
      count: minCount,
      spot,
    });
    const room = this.#room(pool(instanceType, subnet.zone, lifecycle));
    if (room < minCount) {
      const others = this.#o.subnets.map((s) => s.zone).filter((z) => z !== subnet.zone);
      throw new Ec2Fault(
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested ` +
          `(${subnet.zone}). Our system will be working on provisioning additional capacity. You can currently get ` +
          `${instanceType} capacity by not specifying an Availability Zone in your request or choosing ${others.join(', ')}.`,
      );
    }
    const count = Math.min(maxCount, room);
    if (
      !admit([
        ['runInstancesRequests', 1],
        ['runInstancesInstances', count],
      ])
    )
      throw throttled();

    const now = this.#o.clock.now();
    const tags = new Map<string, string>();
    for (const spec of q.tagSpecifications()) {
      if (spec.resourceType === 'instance') for (const t of spec.tags) tags.set(t.key, t.value);
    }
    const reservation: Reservation = { id: hexId('r'), instanceIds: [] };
    const ids: string[] = [];
    for (let index = 0; index < count; index++) {
      const instance: EmulatedInstance = {
        id: hexId('i'),
        reservationId: reservation.id,
        clientToken: token,
        imageId: template?.imageId ?? q.required('ImageId'),
        instanceType,
        zone: subnet.zone,
        subnetId: subnet.id,
        vpcId: 'vpc-0emulator0000000',
        lifecycle,
        spotRequestId: spot ? hexId('sir') : undefined,
        launchTemplate: {
          id: template?.id ?? '',
          name: template?.name ?? '',
          version: q.string('LaunchTemplate.Version') ?? '$Default',
        },
        launchTimeMs: now,
        amiLaunchIndex: index,
        privateIp: this.#ip(),
        userData: q.string('UserData') ?? '',
        tags,
        state: 'pending',
        stateReason: { code: 'pending', message: 'pending' },
        stateTransitionReason: '',
        terminatedAtMs: undefined,
        interruption: undefined,
      };
      this.#instances.set(instance.id, instance);
      ids.push(instance.id);
      this.#o.clock.sleep(this.#o.bootMs, { signal: this.#o.signal }).then(
        () => this.#boot(instance),
        () => undefined,
      );
    }
    const stored = { ...reservation, instanceIds: ids };
    this.#reservations.set(stored.id, stored);
    if (token !== undefined && !honoured) this.#tokens.set(token, { key, reservationId: stored.id, atMs: now });
    return this.#reservationXml(stored);
  }

  terminateInstances(q: QueryParams, admit: Admit): Xml[] {
    const ids = q.list('InstanceId');
    if (ids.length === 0) throw new Ec2Fault('MissingParameter', 'The request must contain the parameter InstanceId');
    this.#checkIds(ids);
    if (
      !admit([
        ['terminateInstancesRequests', 1],
        ['terminateInstancesInstances', ids.length],
      ])
    )
      throw throttled();
    // EC2's documented rule: with a protected instance in the call, no instance of its zone is terminated; the
    // others are, and the call fails naming the protected one.
    const unique = [...new Set(ids)].map((id) => this.#instances.get(id)!);
    const protectedOnes = unique.filter((i) => i.disableApiTermination && isLive(i));
    const blockedZones = new Set(protectedOnes.map((i) => i.zone));
    if (protectedOnes.length > 0) {
      for (const instance of unique) {
        if (!blockedZones.has(instance.zone) && isLive(instance)) {
          this.shutDown(instance, {
            code: 'Client.UserInitiatedShutdown',
            message: 'Client.UserInitiatedShutdown: User initiated shutdown',
          });
        }
      }
      throw new Ec2Fault(
        'OperationNotPermitted',
        `The instance '${protectedOnes[0]!.id}' may not be terminated. Modify its 'disableApiTermination' instance ` +
          'attribute and try again.',
      );
    }
    const items = [...new Set(ids)].map((id) => {
      const instance = this.#instances.get(id)!;
      const previous = instance.state;
      if (isLive(instance))
        this.shutDown(instance, {
          code: 'Client.UserInitiatedShutdown',
          message: 'Client.UserInitiatedShutdown: User initiated shutdown',
        });
      return stateChangeXml(id, previous, instance.state);
    });
    return [itemSet('instancesSet', items)];
  }

  describeInstances(q: QueryParams, admit: Admit): Xml[] {
    const ids = q.list('InstanceId');
    const maxResults = q.integer('MaxResults');
    if (ids.length > 0 && maxResults !== undefined) {
      throw new Ec2Fault(
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      );
    }
    const strict = instanceFilter(q.filters());
    const matches = this.#o.realism?.ignoreFilters ? () => true : strict;
    if (ids.length > 0) this.#checkIds(ids);
    if (!admit([['describeRequests', 1]])) throw throttled();
    const wanted = new Set(ids);
    const found = this.#listed().filter((i) => (wanted.size === 0 || wanted.has(i.id)) && matches(i));
    const queryKey = q.canonicalKey().replace(/(^|&)(NextToken|MaxResults)=[^&]*/g, '');
    const { items, nextToken } = page(found, {
      queryKey,
      nextToken: q.string('NextToken'),
      maxResults,
      min: 5,
      max: 1000,
    });
    // One reservation item per reservation on this page, with this page's instances of it.
    const byReservation = new Map<string, EmulatedInstance[]>();
    for (const i of items) byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), i]);
    const reservations = [...byReservation].map(
      ([id, instances]) =>
        el('reservationId', id) + el('ownerId', OWNER_ID) + itemSet('instancesSet', instances.map(instanceXml)),
    );
    return [itemSet('reservationSet', reservations), el('nextToken', nextToken)];
  }

  /** Adds a running (or pending) instance nobody launched through this API: what another workload in the account runs. */
  addForeign(spec: ForeignInstanceSpec): EmulatedInstance {
    const subnet = this.#o.subnets.find((s) => s.zone === spec.zone);
    if (!subnet) throw new Error(`adding a foreign instance: no subnet in ${spec.zone}`);
    const instance: EmulatedInstance = {
      id: hexId('i'),
      reservationId: hexId('r'),
      clientToken: undefined,
      imageId: 'ami-0f0000000000other',
      instanceType: spec.instanceType,
      zone: spec.zone,
      subnetId: subnet.id,
      vpcId: 'vpc-0emulator0000000',
      lifecycle: 'on-demand',
      spotRequestId: undefined,
      launchTemplate: { id: '', name: '', version: '' },
      launchTimeMs: this.#o.clock.now(),
      amiLaunchIndex: 0,
      privateIp: this.#ip(),
      userData: '',
      tags: new Map(Object.entries(spec.tags ?? {})),
      state: spec.state ?? 'running',
      stateReason: undefined,
      stateTransitionReason: '',
      terminatedAtMs: undefined,
      interruption: undefined,
    };
    this.#instances.set(instance.id, instance);
    this.#reservations.set(instance.reservationId, { id: instance.reservationId, instanceIds: [instance.id] });
    return instance;
  }

  /** Moves a live instance to shutting-down, stops its processes, then terminates it (returning its capacity). */
  shutDown(instance: EmulatedInstance, reason: { code: string; message: string }): void {
    if (!isLive(instance)) return;
    instance.shutDownAtMs = { atMs: this.#o.clock.now(), before: instance.state };
    instance.state = 'shutting-down';
    instance.stateReason = reason;
    instance.stateTransitionReason = `User initiated (${new Date(this.#o.clock.now()).toISOString()})`;
    void this.#o
      .onShuttingDown(instance)
      .catch(() => undefined)
      .then(() => this.#o.clock.sleep(this.#o.shutdownMs, { signal: this.#o.signal }))
      .then(
        () => {
          instance.state = 'terminated';
          instance.terminatedAtMs = this.#o.clock.now();
        },
        () => undefined,
      );
  }

  #boot(instance: EmulatedInstance): void {
    if (instance.state !== 'pending') return;
    instance.state = 'running';
    instance.stateReason = undefined;
    this.#o.onRunning(instance);
  }

  #reservationXml(r: Reservation): Xml[] {
    const instances = r.instanceIds.map((id) => this.#instances.get(id)).filter((i) => i !== undefined);
    return [el('reservationId', r.id), el('ownerId', OWNER_ID), itemSet('instancesSet', instances.map(instanceXml))];
  }

  #room(key: string): number {
    const capacity = this.#capacity.get(key);
    if (capacity === undefined) return Number.POSITIVE_INFINITY;
    const used = [...this.#instances.values()].filter(
      (i) => i.state !== 'terminated' && pool(i.instanceType, i.zone, i.lifecycle) === key,
    ).length;
    return Math.max(0, capacity - used);
  }

  /** EC2 fails the whole call when one id is malformed or unknown (or terminated long ago). */
  #checkIds(ids: readonly string[]): void {
    const malformed = ids.filter((id) => !INSTANCE_ID.test(id));
    if (malformed.length > 0) throw new Ec2Fault('InvalidInstanceID.Malformed', `Invalid id: "${malformed[0]}"`);
    const visible = new Set(this.#visible().map((i) => i.id));
    const unknown = [...new Set(ids.filter((id) => !visible.has(id)))];
    if (unknown.length === 1)
      throw new Ec2Fault('InvalidInstanceID.NotFound', `The instance ID '${unknown[0]}' does not exist`);
    if (unknown.length > 1)
      throw new Ec2Fault('InvalidInstanceID.NotFound', `The instance IDs '${unknown.join(', ')}' do not exist`);
  }

  /**
   * What DescribeInstances shows: with eventual consistency, instances launched less than `newHiddenMs` ago are
   * missing, and instances whose terminate began less than `deletedListedMs` ago still show their state before it.
   */
  #listed(): EmulatedInstance[] {
    const lag = this.#o.realism?.eventualConsistency;
    if (!lag) return this.#visible();
    const now = this.#o.clock.now();
    return this.#visible()
      .filter((i) => now - i.launchTimeMs >= lag.newHiddenMs)
      .map((i) =>
        i.shutDownAtMs && now - i.shutDownAtMs.atMs < lag.deletedListedMs
          ? { ...i, state: i.shutDownAtMs.before, stateReason: undefined }
          : i,
      );
  }

  /** Instances still visible: terminated ones are forgotten after `terminatedVisibleMs`. */
  #visible(): EmulatedInstance[] {
    const now = this.#o.clock.now();
    for (const [id, i] of this.#instances) {
      if (i.terminatedAtMs !== undefined && now - i.terminatedAtMs >= this.#o.terminatedVisibleMs)
        this.#instances.delete(id);
    }
    return [...this.#instances.values()];
  }

  #ip(): string {
    const n = this.#nextIp++;
    return `10.0.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
  }
}

function throttled(): Ec2Fault {
  return new Ec2Fault('RequestLimitExceeded', 'Request limit exceeded.');
}
