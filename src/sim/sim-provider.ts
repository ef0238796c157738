import type { Clock } from '../core/clock.ts';
import { CapacityError, ProviderError } from '../core/errors.ts';
import type { Instance } from '../core/instance.ts';
import { offeringKey, type Offering } from '../core/offering.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../providers/provider.ts';

/** What the simulation learns of a simulated instance's life, to schedule its boot and interruption. */
export interface SimInstanceListener {
  /** Instances a launch created (not repeated for an idempotent retry). */
  launched(instances: readonly SimInstance[], request: LaunchRequest): void;
  /** Instances a terminate call ended (already gone ones are left out). */
  terminated(instances: readonly SimInstance[]): void;
  /** A launch refused for want of capacity: the controller fails over in its next pass. */
  refused(request: LaunchRequest): void;
}

/** A simulated instance and when its life's events fall. */
export interface SimInstance extends Instance {
  readonly offering: Offering;
  /** When its agent is up and registers: launch + the offering's bootMs. */
  readonly bootAtMs: number;
  /** For spot: when the cloud announces its interruption (two minutes before it reclaims it); null for none. */
  readonly interruptAtMs: number | null;
}

export interface SimProviderOptions {
  /** `kind:region`, as the real provider's id: `aws-ec2:us-east-1`. */
  readonly id: string;
  readonly kind: string;
  /** What it offers: prices from the price book, `bootMs` its boot delay. */
  readonly offerings: readonly Offering[];
  readonly clock: Clock;
  /** Live instances each offering may have at once; launches beyond it fail with CapacityError. Default unlimited. */
  readonly capacityPerOffering?: number;
  /** Mean spot interruptions per instance-hour (exponential inter-arrival); default 0 (none). */
  readonly spotInterruptionsPerHour?: number;
  /** Seeded random numbers (core/random.ts), so a run repeats exactly. */
  readonly random: () => number;
  readonly listener?: SimInstanceListener;
}

/** How long the cloud's interruption notice runs before it reclaims a spot instance (EC2 and GCE: about 2 min). */
export const INTERRUPTION_NOTICE_MS = 120_000;

/**
 * A cloud on the simulated clock, behind the same CloudProvider port as the real adapters: launches are idempotent by
 * intent id, capacity per offering is finite (CapacityError past it), spot instances may be interrupted (seeded), and
 * nothing happens off the clock. Instances are named `<instance type>-<n>` in launch order, so a run's decision log
 * reads the same every time.
 */
export class SimProvider implements CloudProvider {
  readonly id: string;
  readonly kind: string;
  readonly #o: SimProviderOptions;
  readonly #byIntent = new Map<string, SimInstance[]>();
  readonly #live = new Map<string, SimInstance>();
  readonly #liveByOffering = new Map<string, number>();
  readonly #offeringKeys: ReadonlySet<string>;
  #launched = 0;
  #listener: SimInstanceListener | undefined;

  constructor(opts: SimProviderOptions) {
    this.id = opts.id;
    this.kind = opts.kind;
    this.#o = opts;
    this.#listener = opts.listener;
    this.#offeringKeys = new Set(opts.offerings.map(offeringKey));
  }

  /** Who hears of launches and terminations (the simulation, once it is built). */
  listen(listener: SimInstanceListener): void {
    this.#listener = listener;
  }

  async offerings(opts: CallOptions = {}): Promise<Offering[]> {
    opts.signal?.throwIfAborted();
    return [...this.#o.offerings];
  }

  async launch(request: LaunchRequest, opts: CallOptions = {}): Promise<Instance[]> {
    opts.signal?.throwIfAborted();
    const known = this.#byIntent.get(request.intentId);
    if (known) return known;
    const key = offeringKey(request.offering);
    const what = `launching ${request.count} x ${key}`;
    if (!this.#offeringKeys.has(key)) throw new ProviderError(`${what}: ${this.id} does not offer it`);
    const live = this.#liveByOffering.get(key) ?? 0;
    if (live + request.count > (this.#o.capacityPerOffering ?? Infinity)) {
      this.#listener?.refused(request);
      throw new CapacityError(`${what}: no capacity (${live} of ${this.#o.capacityPerOffering} in use)`, key);
    }
    const now = this.#o.clock.now();
    const instances: SimInstance[] = [];
    for (let i = 0; i < request.count; i++) {
      const instance: SimInstance = {
        id: `${request.offering.instanceType}-${++this.#launched}`,
        providerId: this.id,
        instanceType: request.offering.instanceType,
        zone: request.offering.zone,
        lifecycle: request.offering.lifecycle,
        state: 'pending',
        intentId: request.intentId,
        clusterId: request.clusterId,
        launchedAtMs: now,
        offering: request.offering,
        bootAtMs: now + request.offering.bootMs,
        interruptAtMs: this.#interruptAt(request.offering, now),
      };
      instances.push(instance);
      this.#live.set(instance.id, instance);
    }
    this.#liveByOffering.set(key, live + request.count);
    this.#byIntent.set(request.intentId, instances);
    this.#listener?.launched(instances, request);
    return instances;
  }

  async terminate(instanceIds: readonly string[], opts: CallOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    const gone = instanceIds.flatMap((id) => (this.#live.has(id) ? [this.#remove(id)] : []));
    if (gone.length > 0) this.#listener?.terminated(gone);
  }

  async list(clusterId: string, opts: CallOptions = {}): Promise<Instance[]> {
    opts.signal?.throwIfAborted();
    return [...this.#live.values()].filter((i) => i.clusterId === clusterId);
  }

  /** The cloud takes a spot instance back at the end of its notice: it is gone without a terminate call. */
  reclaim(instanceId: string): void {
    if (this.#live.has(instanceId)) this.#remove(instanceId);
  }

  /** Whether the instance is alive (launched, not terminated or reclaimed). */
  isLive(instanceId: string): boolean {
    return this.#live.has(instanceId);
  }

  /** Instances alive now. */
  get liveCount(): number {
    return this.#live.size;
  }

  #remove(id: string): SimInstance {
    const instance = this.#live.get(id)!;
    this.#live.delete(id);
    const key = offeringKey(instance.offering);
    this.#liveByOffering.set(key, (this.#liveByOffering.get(key) ?? 1) - 1);
    return instance;
  }

  #interruptAt(offering: Offering, nowMs: number): number | null {
    const rate = this.#o.spotInterruptionsPerHour ?? 0;
    if (offering.lifecycle !== 'spot' || rate <= 0) return null;
    const hours = -Math.log(1 - this.#o.random()) / rate;
    return nowMs + Math.round(hours * 3_600_000);
  }
}
