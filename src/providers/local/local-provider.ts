import { createHash } from 'node:crypto';
import { systemClock } from '../../core/clock.ts';
import { CapacityError, ProviderError } from '../../core/errors.ts';
import { failpoint } from '../../core/failpoints.ts';
import type { Instance } from '../../core/instance.ts';
import { offeringKey, type Offering } from '../../core/offering.ts';
import type { LocalProviderConfig } from '../../config/schema.ts';
import type { Logger } from '../../log/logger.ts';
import { formatLabelsFlag, renderAgentBootScript, type AgentBootParams } from '../boot-script.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../provider.ts';
import type { IdentityVerifier } from '../identity.ts';
import { LocalIdentity } from './local-identity.ts';
import { findBootProcess, instanceProcesses, spawnInstanceProcess } from './instance-process.ts';
import { localOfferings } from './offerings.ts';
import { isAlive, signalGroup, signalProcess } from './process-table.ts';
import { isSafeId, StateDir, type InstanceRecord } from './state-dir.ts';

export interface LocalProviderOptions {
  readonly config: LocalProviderConfig;
  /** Where the records live: `intents/`, `instances/` (with each instance's log). */
  readonly stateDir: string;
  /** The argv prefix that starts an agent, e.g. `[process.execPath, '<repo>/src/cli/main.ts', 'agent']`. */
  readonly agentCommand: readonly string[];
  readonly logger: Logger;
  /** Epoch milliseconds, for launch times; default `Date.now`. */
  readonly now?: () => number;
  /** How long terminate waits after SIGTERM before SIGKILL; default 5 s. */
  readonly terminateGraceMs?: number;
  /**
   * Renders an instance's boot script from the agent boot values instead of LOCAL_BOOT_TEMPLATE (a Slurm pool's
   * node script, say); default the agent's.
   */
  readonly renderBootScript?: (instanceId: string, request: LaunchRequest, base: AgentBootParams) => string;
}

/** How often terminate looks whether an instance's processes are gone. */
const POLL_MS = 50;
/** How long processes may survive SIGKILL (uninterruptible sleep) before terminate fails, retryably. */
const KILL_TIMEOUT_MS = 10_000;

/**
 * The embedded local cloud: an instance is a detached process group on this machine running the same boot script a
 * cloud instance would. Records on disk make every method idempotent across controller restarts, and each record
 * keeps the process's start time, so a reused pid is never taken for an instance.
 * Errors: CapacityError when an offering's zone holds `capacityPerZone` live instances; a non-retryable
 * ProviderError for a request this provider cannot serve (unknown offering, a reused intent id with other
 * parameters); a retryable ProviderError when processes survive SIGKILL.
 */
export class LocalProvider implements CloudProvider {
  readonly id: string;
  readonly kind = 'local';
  readonly #config: LocalProviderConfig;
  readonly #state: StateDir;
  readonly #agentCommand: readonly string[];
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #terminateGraceMs: number;
  readonly #renderBootScript: LocalProviderOptions['renderBootScript'];
  readonly #identity: LocalIdentity;
  /** Launches and record updates run one at a time: the capacity check and the spawn must not interleave. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: LocalProviderOptions) {
    if (opts.agentCommand.length === 0) throw new ProviderError('creating the local provider: agentCommand is empty');
    this.id = `local:${opts.config.name}`;
    this.#config = opts.config;
    this.#state = new StateDir(opts.stateDir);
    this.#agentCommand = opts.agentCommand;
    this.#log = opts.logger.child({ component: 'local-provider', providerId: this.id });
    this.#now = opts.now ?? Date.now;
    this.#terminateGraceMs = opts.terminateGraceMs ?? 5_000;
    this.#renderBootScript = opts.renderBootScript;
    this.#identity = new LocalIdentity(opts.stateDir, opts.config.region);
  }

  /** Verifies the identity documents this provider's instances get (STYLE rule 15: beside the adapter). */
  identityVerifier(): IdentityVerifier {
    return this.#identity.verifier();
  }

  async offerings(opts: CallOptions = {}): Promise<Offering[]> {
    opts.signal?.throwIfAborted();
    return localOfferings(this.#config, this.id);
  }

  /**
   * Launches `count` instances, or returns those an earlier call with the same intent id launched. Only instances
   * with no process on record are started, so a retry after a crash at any point starts each instance once.
   */
  launch(request: LaunchRequest, opts: CallOptions = {}): Promise<Instance[]> {
    opts.signal?.throwIfAborted();
    return this.#serial(() => this.#launch(request, opts.signal));
  }

  /** Every live instance of `clusterId`. Records of instances whose process is gone are marked terminated. */
  list(clusterId: string, opts: CallOptions = {}): Promise<Instance[]> {
    opts.signal?.throwIfAborted();
    return this.#serial(async () => {
      const live: Instance[] = [];
      for (const record of await this.#state.listInstances()) {
        if (record.clusterId !== clusterId || record.state === 'terminated') continue;
        const current = await this.#refresh(record);
        if (current.state !== 'terminated' && current.pid !== null) live.push(toInstance(current));
      }
      return live.sort((a, b) => a.id.localeCompare(b.id));
    });
  }

  /**
   * SIGTERM to each instance's process group, SIGKILL to everything of it still alive after the grace. Resolves when
   * the processes are gone. Unknown and already-terminated ids are not an error.
   */
  async terminate(instanceIds: readonly string[], opts: CallOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    const records = await Promise.all(instanceIds.map((id) => this.#state.readInstance(id)));
    await Promise.all(
      records.filter((r): r is InstanceRecord => r !== undefined).map((r) => this.#terminateOne(r, opts.signal)),
    );
  }

  async #launch(request: LaunchRequest, signal: AbortSignal | undefined): Promise<Instance[]> {
    const { intentId, offering, count } = request;
    const what = `launching intent ${intentId}`;
    this.#validate(request, what);
    const paramsHash = launchParamsHash(request);
    let intent = await this.#state.readIntent(intentId);
    if (intent && intent.paramsHash !== paramsHash) {
      throw new ProviderError(`${what}: the same idempotency key was used with different parameters`);
    }
    if (!intent) {
      await this.#checkCapacity(offering, count, what);
      const instanceIds = Array.from({ length: count }, (_, i) => `li-${intentId}-${i}`);
      intent = { intentId, paramsHash, instanceIds, createdAtMs: this.#now() };
      await this.#state.writeIntent(intent);
      failpoint('local.intent.recorded');
    }
    const instances: Instance[] = [];
    for (const instanceId of intent.instanceIds) {
      signal?.throwIfAborted();
      const record = await this.#ensureStarted(instanceId, request);
      instances.push(toInstance(record));
    }
    this.#log.info('launched instances', {
      intentId,
      instanceType: offering.instanceType,
      zone: offering.zone,
      lifecycle: offering.lifecycle,
      instanceIds: intent.instanceIds,
    });
    return instances;
  }

  #validate(request: LaunchRequest, what: string): void {
    const { offering, count } = request;
    if (!isSafeId(request.intentId)) throw new ProviderError(`${what}: the intent id is not a UUID`);
    if (!Number.isInteger(count) || count < 1) {
      throw new ProviderError(`${what}: count must be a positive integer, got ${count}`);
    }
    const known = localOfferings(this.#config, this.id).some((o) => offeringKey(o) === offeringKey(offering));
    if (!known) throw new ProviderError(`${what}: ${offeringKey(offering)} is not an offering of ${this.id}`);
  }

  async #checkCapacity(offering: Offering, count: number, what: string): Promise<void> {
    let used = 0;
    for (const record of await this.#state.listInstances()) {
      if (record.instanceType !== offering.instanceType || record.zone !== offering.zone) continue;
      if (record.lifecycle !== offering.lifecycle || record.state === 'terminated') continue;
      // A record without a process is a launch in flight (or to be retried): it holds its room.
      if (record.pid === null || (await this.#refresh(record)).state !== 'terminated') used += 1;
    }
    const capacity = this.#config.capacityPerZone;
    if (used + count > capacity) {
      throw new CapacityError(
        `${what}: no capacity for ${count} x ${offering.instanceType} (${offering.lifecycle}) in ${offering.zone}: ` +
          `${used} of ${capacity} in use`,
        offeringKey(offering),
      );
    }
  }

  /** The instance's record, its process started (or adopted from a crashed launch) unless it already had one. */
  async #ensureStarted(instanceId: string, request: LaunchRequest): Promise<InstanceRecord> {
    let record = await this.#state.readInstance(instanceId);
    if (record && (record.pid !== null || record.state === 'terminated')) return this.#refresh(record);
    if (!record) {
      record = {
        id: instanceId,
        providerId: this.id,
        clusterId: request.clusterId,
        intentId: request.intentId,
        owner: request.owner,
        instanceType: request.offering.instanceType,
        zone: request.offering.zone,
        lifecycle: request.offering.lifecycle,
        launchedAtMs: this.#now(),
        pid: null,
        startTime: null,
        state: 'pending',
        terminatedAtMs: null,
      };
      // Written before the spawn: a retry then knows the instance exists and looks for its process first.
      await this.#state.writeInstance(record);
    }
    const orphan = await findBootProcess(instanceId);
    const started = orphan
      ? { pid: orphan.pid, startTime: orphan.startTime }
      : await spawnInstanceProcess({
          instanceId,
          script: this.#bootScript(instanceId, request),
          logPath: this.#state.instanceLogPath(instanceId),
          identity: this.#identity.sign({
            instanceId,
            zone: record.zone,
            instanceType: record.instanceType,
            launchedAtMs: record.launchedAtMs,
          }),
        });
    failpoint('local.instance.spawned');
    record = { ...record, pid: started.pid, startTime: started.startTime, state: 'running' };
    await this.#state.writeInstance(record);
    this.#log.info(orphan ? 'adopted instance process' : 'started instance', { instanceId, pid: started.pid });
    return record;
  }

  #bootScript(instanceId: string, request: LaunchRequest): string {
    const { capacity, labels } = request.offering;
    const base: AgentBootParams = {
      bootDelaySeconds: this.#config.bootDelayMs / 1000,
      caBundle: request.bootstrap.caBundle,
      caFile: this.#state.caFilePath(instanceId),
      credential: request.bootstrap.credential,
      agentCommand: this.#agentCommand,
      controllerUrl: request.bootstrap.controllerUrl,
      cpu: `${capacity.cpuMillis}m`,
      memory: `${capacity.memoryMiB}Mi`,
      netMbps: capacity.netMbps,
      gpuFlags: capacity.gpus > 0 ? ['--gpus', String(capacity.gpus)] : [],
      labels: formatLabelsFlag(labels),
    };
    return this.#renderBootScript ? this.#renderBootScript(instanceId, request, base) : renderAgentBootScript(base);
  }

  /** Re-reads whether a record's process lives; marks the record terminated when it is gone. */
  async #refresh(record: InstanceRecord): Promise<InstanceRecord> {
    if (record.state === 'terminated') return record;
    if (record.pid === null) {
      const orphan = await findBootProcess(record.id);
      if (!orphan) return record;
      const adopted = { ...record, pid: orphan.pid, startTime: orphan.startTime, state: 'running' as const };
      await this.#state.writeInstance(adopted);
      this.#log.info('adopted instance process', { instanceId: record.id, pid: orphan.pid });
      return adopted;
    }
    if (record.startTime !== null && (await isAlive(record.pid, record.startTime))) return record;
    const gone = { ...record, state: 'terminated' as const, terminatedAtMs: this.#now() };
    await this.#state.writeInstance(gone);
    this.#log.info('found instance process gone', { instanceId: record.id, pid: record.pid });
    return gone;
  }

  async #terminateOne(record: InstanceRecord, signal: AbortSignal | undefined): Promise<void> {
    const { id, pid, startTime } = record;
    const leaderAlive = pid !== null && startTime !== null && (await isAlive(pid, startTime));
    const group = leaderAlive ? pid : undefined;
    const remaining = (): Promise<number[]> => instanceProcesses(id, group).then((ps) => ps.map((p) => p.pid));
    let pids = await remaining();
    if (pids.length > 0) {
      this.#log.info('terminating instance', { instanceId: id, pids, graceMs: this.#terminateGraceMs });
      if (group !== undefined) signalGroup(group, 'SIGTERM');
      const graceEndMs = Date.now() + this.#terminateGraceMs;
      while (pids.length > 0 && Date.now() < graceEndMs) {
        await systemClock.sleep(POLL_MS, { signal });
        pids = await remaining();
      }
      const killEndMs = Date.now() + KILL_TIMEOUT_MS;
      while (pids.length > 0) {
        if (Date.now() > killEndMs) {
          throw new ProviderError(`terminating instance ${id}: processes ${pids.join(', ')} survive SIGKILL`, {
            retryable: true,
          });
        }
        if (group !== undefined) signalGroup(group, 'SIGKILL');
        for (const p of pids) signalProcess(p, 'SIGKILL');
        await systemClock.sleep(POLL_MS, { signal });
        pids = await remaining();
      }
    }
    await this.#serial(async () => {
      const current = (await this.#state.readInstance(id)) ?? record;
      if (current.state === 'terminated') return;
      await this.#state.writeInstance({ ...current, state: 'terminated', terminatedAtMs: this.#now() });
      this.#log.info('terminated instance', { instanceId: id });
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** The launch parameters a retry must repeat. The credential enters only as part of this hash, never on disk. */
function launchParamsHash(r: LaunchRequest): string {
  const o = r.offering;
  const fields = [r.clusterId, offeringKey(o), r.count, r.owner.team, r.owner.project, r.owner.job];
  fields.push(r.bootstrap.controllerUrl, r.bootstrap.caBundle, r.bootstrap.credential);
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

function toInstance(record: InstanceRecord): Instance {
  return {
    id: record.id,
    providerId: record.providerId,
    instanceType: record.instanceType,
    zone: record.zone,
    lifecycle: record.lifecycle,
    state: record.state,
    intentId: record.intentId,
    clusterId: record.clusterId,
    launchedAtMs: record.launchedAtMs,
  };
}
