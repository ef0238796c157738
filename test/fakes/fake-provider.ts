import type { Instance } from '../../src/core/instance.ts';
import type { Offering } from '../../src/core/offering.ts';
import type { CloudProvider, LaunchRequest } from '../../src/providers/provider.ts';

/**
 * A CloudProvider for controller tests: keeps instances in memory, honours the idempotency key, records every call,
 * and can be told to fail the next calls. The real adapters are tested against wire-level emulators instead.
 */
export class FakeProvider implements CloudProvider {
  readonly id: string;
  readonly kind = 'fake';
  readonly calls: { method: string; arg: unknown }[] = [];
  readonly instances = new Map<string, Instance & { clusterId: string }>();
  /** Makes `list` answer every instance, whatever its cluster: a server that ignores the filter. */
  listIgnoresCluster = false;
  #offerings: Offering[];
  #byIntent = new Map<string, string[]>();
  #failures: { method: string; error: Error }[] = [];
  #now: () => number;

  constructor(opts: { id?: string; offerings: Offering[]; now: () => number }) {
    this.id = opts.id ?? 'fake:test';
    this.#offerings = opts.offerings;
    this.#now = opts.now;
  }

  /** The next call of `method` throws `error`. */
  failNext(method: 'launch' | 'terminate' | 'list' | 'offerings', error: Error): void {
    this.#failures.push({ method, error });
  }

  #maybeFail(method: string): void {
    const i = this.#failures.findIndex((f) => f.method === method);
    if (i >= 0) {
      const [failure] = this.#failures.splice(i, 1);
      throw failure!.error;
    }
  }

  async offerings(): Promise<Offering[]> {
    this.calls.push({ method: 'offerings', arg: undefined });
    this.#maybeFail('offerings');
    return this.#offerings;
  }

  async launch(request: LaunchRequest): Promise<Instance[]> {
    this.calls.push({ method: 'launch', arg: request });
    this.#maybeFail('launch');
    const known = this.#byIntent.get(request.intentId);
    if (known) return known.map((id) => this.instances.get(id)!).filter(Boolean);
    const ids: string[] = [];
    for (let i = 0; i < request.count; i++) {
      const id = `fi-${request.intentId.slice(0, 8)}-${i}`;
      ids.push(id);
      this.instances.set(id, {
        id,
        providerId: this.id,
        instanceType: request.offering.instanceType,
        zone: request.offering.zone,
        lifecycle: request.offering.lifecycle,
        state: 'running',
        intentId: request.intentId,
        clusterId: request.clusterId,
        launchedAtMs: this.#now(),
      });
    }
    this.#byIntent.set(request.intentId, ids);
    return ids.map((id) => this.instances.get(id)!);
  }

  async terminate(instanceIds: readonly string[]): Promise<void> {
    this.calls.push({ method: 'terminate', arg: instanceIds });
    this.#maybeFail('terminate');
    for (const id of instanceIds) this.instances.delete(id);
  }

  async list(clusterId: string): Promise<Instance[]> {
    this.calls.push({ method: 'list', arg: clusterId });
    this.#maybeFail('list');
    return [...this.instances.values()].filter((i) => this.listIgnoresCluster || i.clusterId === clusterId);
  }

  /** Puts an instance there that no intent of the controller launched. */
  addStray(id: string, clusterId: string, launchedAtMs: number, intentId: string | null = null): void {
    this.instances.set(id, {
      id,
      providerId: this.id,
      instanceType: 'stray',
      zone: 'z',
      lifecycle: 'on-demand',
      state: 'running',
      intentId,
      clusterId,
      launchedAtMs,
    });
  }

  launchCalls(): LaunchRequest[] {
    return this.calls.filter((c) => c.method === 'launch').map((c) => c.arg as LaunchRequest);
  }
}
