import type { Clock } from '../../../src/core/clock.ts';
import { GceFault, invalid, notFound } from './gce-fault.ts';
import { parseFilter, pageOf } from './gce-filter.ts';
import type { EmulatedGceInstance, EmulatedMachineType } from './gce-instance.ts';
import { newOperation, type EmulatedOperation } from './gce-operations.ts';
import { tokenHonoured, type Realism } from '../realism.ts';

export interface GceQuotas {
  /** Regional CPUS quota: vCPUs of standard (not Spot) instances. */
  readonly cpus?: number;
  /** Regional PREEMPTIBLE_CPUS quota: vCPUs of Spot instances. */
  readonly preemptibleCpus?: number;
  /** Regional INSTANCES quota. */
  readonly instances?: number;
}

export interface GceWorldOptions {
  readonly clock: Clock;
  readonly zones: readonly string[];
  readonly machineTypes: readonly EmulatedMachineType[];
  /** Instance templates by partial URL (`projects/p/global/instanceTemplates/x`). */
  readonly templates: readonly string[];
  /** PROVISIONING -> RUNNING after this long on the clock. */
  readonly bootMs: number;
  /** How long a requestId is remembered (GCE: a limited, undocumented time). */
  readonly requestIdTtlMs: number;
  readonly quotas: GceQuotas;
  readonly onRunning: (instance: EmulatedGceInstance) => void;
  /** Stops the instance's processes. */
  readonly onStopping: (instance: EmulatedGceInstance) => Promise<void>;
  readonly signal: AbortSignal;
  /** How adversarial lists and request ids are (see realism.ts); default none of it. */
  readonly realism?: Realism;
}

/** An instance of another workload in the project: another cluster's labels, or none. */
export interface ForeignGceInstanceSpec {
  readonly zone: string;
  readonly name: string;
  readonly machineType: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** What one new instance is made of. */
export interface NewInstance {
  readonly name: string;
  readonly machineType: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly metadata: ReadonlyMap<string, string>;
  readonly spot: boolean;
  readonly terminationAction: string;
  readonly template: string;
}

const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
let nextId = 1_000_000_000_000_000;

/**
 * The Compute Engine project and region the emulator serves: instances, zone operations, request ids, capacity pools
 * per machine type, zone and provisioning model, and regional quotas, on the emulator's clock. Capacity and quota
 * failures finish the operation with errors, as GCE reports them; validation failures throw GceFault.
 */
export class GceWorld {
  readonly #o: GceWorldOptions;
  readonly #instances = new Map<string, EmulatedGceInstance>();
  readonly #history: EmulatedGceInstance[] = [];
  readonly #operations = new Map<string, EmulatedOperation>();
  readonly #requestIds = new Map<string, { readonly operation: string; readonly atMs: number }>();
  readonly #capacity = new Map<string, number>();

  constructor(opts: GceWorldOptions) {
    this.#o = opts;
  }

  /** Instances a pool (type, zone, Spot or not) may still start; unlimited unless set. */
  setCapacity(machineType: string, zone: string, lifecycle: 'on-demand' | 'spot', instances: number): void {
    this.#capacity.set(`${machineType}/${zone}/${lifecycle}`, instances);
  }

  instances(): EmulatedGceInstance[] {
    return [...this.#instances.values()].filter((i) => !i.deleted);
  }

  /** Every instance ever created, deleted ones too (what tests check for duplicates). */
  history(): EmulatedGceInstance[] {
    return [...this.#history];
  }

  instance(zone: string, name: string): EmulatedGceInstance | undefined {
    const i = this.#instances.get(`${zone}/${name}`);
    return i && !i.deleted ? i : undefined;
  }

  operation(zone: string, name: string): EmulatedOperation {
    const op = this.#operations.get(name);
    if (!op || op.zone !== zone) throw notFound(`projects/emulated/zones/${zone}/operations/${name}`);
    return op;
  }

  /**
   * Creates `wanted` instances in `zone` from `template`, all or none, answering the operation. A requestId seen
   * within its time returns the first call's operation and does nothing more.
   */
  create(
    zone: string,
    requestId: string | null,
    template: string,
    wanted: readonly NewInstance[],
    type: string,
  ): EmulatedOperation {
    this.#zone(zone);
    const earlier = this.#remembered(requestId);
    if (earlier) return earlier;
    if (!this.#o.templates.includes(template)) throw notFound(template);
    const names = new Set<string>();
    for (const w of wanted) {
      if (!NAME.test(w.name))
        throw invalid(
          `Invalid value for field 'resource.name': '${w.name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
        );
      if (names.has(w.name) || this.instance(zone, w.name)) {
        throw new GceFault(
          409,
          'alreadyExists',
          `The resource 'projects/emulated/zones/${zone}/instances/${w.name}' already exists`,
        );
      }
      names.add(w.name);
      this.#machineType(w.machineType);
    }
    const now = this.#o.clock.now();
    const first = wanted[0]!;
    const op = newOperation({
      zone,
      operationType: type,
      targetLink: `zones/${zone}/instances/${first.name}`,
      targetId: String(nextId + 1),
      nowMs: now,
    });
    this.#operations.set(op.name, op);
    if (requestId !== null) this.#requestIds.set(requestId, { operation: op.name, atMs: now });
    op.error = this.#refusal(zone, wanted);
    if (!op.error) {
      for (const w of wanted) {
        const instance: EmulatedGceInstance = {
          id: String(++nextId),
          zone,
          ...w,
          createdAtMs: now,
          status: 'PROVISIONING',
          preempted: false,
          metadataVersion: 1,
          deleted: false,
        };
        this.#instances.set(`${zone}/${w.name}`, instance);
        this.#history.push(instance);
        this.#o.clock.sleep(this.#o.bootMs, { signal: this.#o.signal }).then(
          () => this.#boot(instance),
          () => undefined,
        );
      }
    }
    return op;
  }

  /** Deletes an instance: STOPPING, its processes stopped, then gone from lists. */
  delete(zone: string, name: string, requestId: string | null): EmulatedOperation {
    this.#zone(zone);
    const earlier = this.#remembered(requestId);
    if (earlier) return earlier;
    const instance = this.instance(zone, name);
    if (!instance) throw notFound(`projects/emulated/zones/${zone}/instances/${name}`);
    if (instance.deletionProtection) {
      throw new GceFault(
        400,
        'invalidResourceUsage',
        "Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'",
      );
    }
    const op = newOperation({
      zone,
      operationType: 'delete',
      targetLink: `zones/${zone}/instances/${name}`,
      targetId: instance.id,
      nowMs: this.#o.clock.now(),
    });
    this.#operations.set(op.name, op);
    if (requestId !== null) this.#requestIds.set(requestId, { operation: op.name, atMs: this.#o.clock.now() });
    this.stop(instance, true);
    return op;
  }

  /** Adds a RUNNING instance nobody created through this API (another workload's). */
  addForeign(spec: ForeignGceInstanceSpec): EmulatedGceInstance {
    this.#zone(spec.zone);
    const instance: EmulatedGceInstance = {
      id: String(++nextId),
      zone: spec.zone,
      name: spec.name,
      machineType: spec.machineType,
      spot: false,
      terminationAction: 'STOP',
      template: '',
      labels: spec.labels ?? {},
      metadata: new Map(),
      createdAtMs: this.#o.clock.now(),
      status: 'RUNNING',
      preempted: false,
      metadataVersion: 1,
      deleted: false,
    };
    this.#instances.set(`${spec.zone}/${spec.name}`, instance);
    this.#history.push(instance);
    return instance;
  }

  list(zone: string, query: URLSearchParams): { items: EmulatedGceInstance[]; nextPageToken: string | undefined } {
    this.#zone(zone);
    const filter = query.get('filter') ?? '';
    const strict = parseFilter(filter);
    const matches = this.#o.realism?.ignoreFilters ? () => true : strict;
    const found = this.#listed()
      .filter((i) => i.zone === zone && matches(i))
      .sort((a, b) => a.name.localeCompare(b.name));
    return pageOf(found, { filter, pageToken: query.get('pageToken'), maxResults: query.get('maxResults') });
  }

  /** Stops an instance's processes; deleted instances leave lists, stopped ones stay TERMINATED. */
  stop(instance: EmulatedGceInstance, deleteIt: boolean): void {
    if (instance.status === 'STOPPING' || instance.deleted) return;
    if (deleteIt) instance.deletedAt = { atMs: this.#o.clock.now(), before: instance.status };
    instance.status = 'STOPPING';
    if (deleteIt) instance.deleted = true;
    void this.#o
      .onStopping(instance)
      .catch(() => undefined)
      .then(() => {
        instance.status = 'TERMINATED';
      });
  }

  /**
   * What instances.list shows: with eventual consistency, instances created less than `newHiddenMs` ago are missing,
   * and instances deleted less than `deletedListedMs` ago are still there in their status before the delete.
   */
  #listed(): EmulatedGceInstance[] {
    const lag = this.#o.realism?.eventualConsistency;
    if (!lag) return this.instances();
    const now = this.#o.clock.now();
    const recentlyDeleted = [...this.#instances.values()]
      .filter((i) => i.deleted && i.deletedAt && now - i.deletedAt.atMs < lag.deletedListedMs)
      .map((i) => ({ ...i, status: i.deletedAt!.before, deleted: false }));
    return [...this.instances().filter((i) => now - i.createdAtMs >= lag.newHiddenMs), ...recentlyDeleted];
  }

  #boot(instance: EmulatedGceInstance): void {
    if (instance.status !== 'PROVISIONING' || instance.deleted) return;
    instance.status = 'RUNNING';
    this.#o.onRunning(instance);
  }

  #remembered(requestId: string | null): EmulatedOperation | undefined {
    if (requestId === null) return undefined;
    if (!UUID.test(requestId) || /^[0-]+$/.test(requestId)) {
      throw invalid(`Invalid value for field 'requestId': '${requestId}'. The requestId must be a valid UUID.`);
    }
    const seen = this.#requestIds.get(requestId);
    if (!seen) return undefined;
    const now = this.#o.clock.now();
    if (now - seen.atMs >= this.#o.requestIdTtlMs || !tokenHonoured(this.#o.realism ?? {}, seen.atMs, now)) {
      this.#requestIds.delete(requestId);
      return undefined;
    }
    return this.#operations.get(seen.operation);
  }

  #zone(zone: string): void {
    if (!this.#o.zones.includes(zone)) throw notFound(`projects/emulated/zones/${zone}`);
  }

  #machineType(name: string): EmulatedMachineType {
    const type = this.#o.machineTypes.find((t) => t.name === name);
    if (!type)
      throw invalid(
        `Invalid value for field 'resource.machineType': '${name}'. Machine type with name '${name}' does not exist in zone.`,
      );
    return type;
  }

  /** Why GCE fails the operation, if it does: a regional quota, else a stockout of the zone's pool. */
  #refusal(zone: string, wanted: readonly NewInstance[]): EmulatedOperation['error'] {
    const region = zone.replace(/-[a-z]$/, '');
    const live = this.instances();
    const vcpus = (list: readonly { machineType: string }[]): number =>
      list.reduce((n, i) => n + this.#machineType(i.machineType).vcpus, 0);
    const checks: Array<[string, number | undefined, number]> = [
      ['INSTANCES', this.#o.quotas.instances, live.length + wanted.length],
      ['CPUS', this.#o.quotas.cpus, vcpus(live.filter((i) => !i.spot)) + vcpus(wanted.filter((w) => !w.spot))],
      [
        'PREEMPTIBLE_CPUS',
        this.#o.quotas.preemptibleCpus,
        vcpus(live.filter((i) => i.spot)) + vcpus(wanted.filter((w) => w.spot)),
      ],
    ];
    for (const [metric, limit, need] of checks) {
      if (limit !== undefined && need > limit) {
        return {
          httpStatus: 403,
          errors: [
            { code: 'QUOTA_EXCEEDED', message: `Quota '${metric}' exceeded.  Limit: ${limit}.0 in region ${region}.` },
          ],
        };
      }
    }
    const first = wanted[0]!;
    const lifecycle = first.spot ? 'spot' : 'on-demand';
    const capacity = this.#capacity.get(`${first.machineType}/${zone}/${lifecycle}`);
    if (capacity !== undefined) {
      const used = live.filter(
        (i) => i.zone === zone && i.machineType === first.machineType && i.spot === first.spot,
      ).length;
      if (used + wanted.length > capacity) {
        return {
          httpStatus: 503,
          errors: [
            {
              code: 'ZONE_RESOURCE_POOL_EXHAUSTED',
              message: `The zone 'projects/emulated/zones/${zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`,
            },
          ],
        };
      }
    }
    return undefined;
  }
}
