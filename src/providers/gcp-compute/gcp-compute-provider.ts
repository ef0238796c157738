import type { Clock } from '../../core/clock.ts';
import { ProviderError, SpillwayError } from '../../core/errors.ts';
import type { Instance } from '../../core/instance.ts';
import { offeringKey, type Offering } from '../../core/offering.ts';
import type { GcpComputeProviderConfig } from '../../config/schema.ts';
import type { Logger } from '../../log/logger.ts';
import { catalogOfferings, regionCatalog, type CatalogLookup, type PriceBookReader } from '../catalog-offerings.ts';
import { bootTemplateOf, type BootScriptRenderer } from '../launch-boot-script.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../provider.ts';
import { PartialTerminateError } from '../terminate-outcome.ts';
import { splitOwned, type ForeignInstancesListener, type Ownership } from '../ownership.ts';
import { GCE_API_CALLS } from './api-calls.ts';
import { sdkGceApi, tokenFileSource, type GceApi, type GceOperation } from './gce-api.ts';
import { waitForOperation } from './gce-operations.ts';
import { GCE_BOOT_TEMPLATE, renderStartupScript, type StartupScriptSettings } from './gce-boot-script.ts';
import { gceErrorMeaning, translateGceError } from './gce-errors.ts';
import {
  instanceId,
  instanceName,
  launchedInstances,
  LABEL_CLUSTER,
  LABEL_INTENT,
  parseInstanceId,
  toInstance,
} from './gce-instances.ts';
import {
  bulkInsertRequest,
  gceLaunchChunks,
  insertRequest,
  templateUrl,
  type GceLaunchChunk,
  type GceLaunchTarget,
} from './gce-launch.ts';
import { GceRateLimiter } from './gce-rate-limits.ts';

export interface GcpComputeProviderOptions {
  readonly config: GcpComputeProviderConfig;
  /** Rate limits, operation deadlines and requestId trust run on this clock. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** The Compute calls; default the SDK client the config describes. */
  readonly api?: GceApi;
  /**
   * A fixed access token for the default SDK client (tests, emulators). Without it, `config.accessTokenFile` when set,
   * else Application Default Credentials, which production wants.
   */
  readonly accessToken?: string;
  /** The price catalog (a PriceBook): capacity and prices of allowed types the config leaves out. */
  readonly priceBook?: PriceBookReader;
  /** Items asked for per list page; default (and GCE's most) 500. */
  readonly listPageSize?: number;
  /** Renders each launch's boot script instead of the configured template (Slurm mode's node join script). */
  readonly renderBootScript?: BootScriptRenderer;
  /** Told about instances a list or lookup answered with that are not ours (dropped; for metrics). */
  readonly onForeignInstances?: ForeignInstancesListener;
}

/** `instances.list` returns at most 500 items a page. */
const MAX_LIST_PAGE_SIZE = 500;

const permissionsOf = (call: string): readonly string[] =>
  GCE_API_CALLS.find((c) => c.call === call)?.permissions ?? [];

/**
 * The Google Compute Engine adapter: one project and region. Launches create instances from the configured instance
 * template (`instances.insert`, or `bulkInsert` for several), named and labelled after the intent, with the intent id
 * as requestId, and wait on the zone operation, whose errors (stockouts among them) are translated like HTTP ones.
 * GCE forgets request ids after a while, so an intent this controller did not send within `requestIdTrustMs` (any
 * intent after a restart) is first looked up by its label: a launch that already happened returns its instances.
 * Every call waits for the region's buckets on the injected clock and is made once: the provisioner retries.
 * Errors (see gce-errors.ts): CapacityError (ZONE_RESOURCE_POOL_EXHAUSTED: fail over), QuotaError, ThrottledError
 * (rateLimitExceeded, 429), AuthError (naming the permission to grant), ProviderError retryable for 5xx and network
 * failures (the call may have taken effect), non-retryable for refused requests.
 */
export class GcpComputeProvider implements CloudProvider {
  readonly id: string;
  readonly kind = 'gcp-compute';
  readonly #config: GcpComputeProviderConfig;
  readonly #catalog: CatalogLookup;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #api: GceApi;
  readonly #limiter: GceRateLimiter;
  readonly #script: StartupScriptSettings;
  readonly #template: string;
  readonly #listPageSize: number;
  readonly #onForeign: ForeignInstancesListener | undefined;
  /** When this process first sent each intent: within requestIdTrustMs a retry relies on requestId alone. */
  readonly #sentAtMs = new Map<string, number>();

  constructor(opts: GcpComputeProviderOptions) {
    const { config } = opts;
    this.id = `gcp-compute:${config.name ?? config.region}`;
    this.#config = config;
    this.#catalog = regionCatalog(
      opts.priceBook,
      'gcp-compute',
      config.region,
      config.instanceTypes,
      config.zones[0] ?? '',
    );
    this.#clock = opts.clock;
    this.#log = opts.logger.child({ component: 'gcp-compute-provider', providerId: this.id });
    this.#api =
      opts.api ??
      sdkGceApi({
        endpoint: config.endpoint,
        accessToken: opts.accessToken ?? tokenFileSource(config.accessTokenFile),
        requestTimeoutMs: config.requestTimeoutMs,
      });
    this.#limiter = new GceRateLimiter(opts.clock, config.rateLimits);
    this.#script = {
      template: bootTemplateOf(config.bootScript, GCE_BOOT_TEMPLATE),
      agentCommand: config.bootScript.agentCommand,
      caFile: config.bootScript.caFile,
      render: opts.renderBootScript,
    };
    this.#template = templateUrl(config.project, config.instanceTemplate);
    this.#listPageSize = Math.min(opts.listPageSize ?? MAX_LIST_PAGE_SIZE, MAX_LIST_PAGE_SIZE);
    this.#onForeign = opts.onForeignInstances;
  }

  /** Each allowed machine type in each configured zone, on-demand and Spot, priced from config or the catalog. */
  async offerings(opts: CallOptions = {}): Promise<Offering[]> {
    opts.signal?.throwIfAborted();
    return catalogOfferings({
      provider: 'gcp-compute',
      providerId: this.id,
      region: this.#config.region,
      zones: this.#config.zones,
      types: this.#config.instanceTypes,
      bootMs: this.#config.bootMs,
      catalog: this.#catalog,
    });
  }

  /**
   * Launches `count` instances of the offering, all or none per call, in calls of at most `maxBulkInsert`. A retry
   * with the same intent id returns the instances the first attempt created. When a later call of a split launch
   * fails, the earlier calls' instances stay: the retry finds them by label, and reconcile adopts them.
   */
  async launch(request: LaunchRequest, opts: CallOptions = {}): Promise<Instance[]> {
    const { offering, count, intentId } = request;
    const doing = `launching ${count} x ${offering.instanceType} (${offering.lifecycle}) in ${offering.zone} for intent ${intentId}`;
    opts.signal?.throwIfAborted();
    this.#validate(request, doing);
    const target: GceLaunchTarget = {
      project: this.#config.project,
      instanceTemplate: this.#template,
      startupScript: request.bootScript ?? this.bootScriptFor(request),
    };
    const nowMs = this.#clock.now();
    const sentAtMs = this.#sentAtMs.get(intentId);
    if (sentAtMs === undefined || nowMs - sentAtMs > this.#config.requestIdTrustMs) {
      const found = await this.#intentInstances(request, doing, opts.signal);
      if (found.length >= count) {
        this.#log.info('found launched instances', { intentId, instanceIds: found.map((i) => i.id) });
        return found;
      }
    }
    if (sentAtMs === undefined) this.#sentAtMs.set(intentId, nowMs);
    const chunks = gceLaunchChunks(count, this.#config.maxBulkInsert);
    const key = offeringKey(offering);
    /** Calls answered "already exists": their instances are looked up before the launch is reported. */
    const existing: typeof chunks = [];
    for (const chunk of chunks) {
      const part = chunks.length > 1 ? ` (call ${chunk.index + 1} of ${chunks.length})` : '';
      const call = count === 1 ? 'compute.instances.insert' : 'compute.instances.bulkInsert';
      const ctx = {
        doing: doing + part,
        call,
        offeringKey: key,
        launch: { template: this.#template, instanceType: offering.instanceType },
      };
      try {
        await this.#limiter.mutation(opts.signal);
        const operation =
          count === 1
            ? await this.#api.insert(insertRequest(request, chunk, target), { signal: opts.signal })
            : await this.#api.bulkInsert(bulkInsertRequest(request, chunk, target), { signal: opts.signal });
        await this.#finished(operation, offering.zone, ctx.doing, opts.signal);
      } catch (err) {
        // A name of this intent exists: an earlier attempt created it after GCE forgot the requestId.
        if (opts.signal?.aborted || gceErrorMeaning(err) !== 'alreadyExists')
          throw this.#translate(err, opts.signal, ctx);
        existing.push(chunk);
      }
    }
    if (existing.length > 0) await this.#confirmExisting(request, existing, doing, opts.signal);
    const instances = launchedInstances(request, this.id, nowMs);
    this.#log.info('launched instances', {
      intentId,
      offering: key,
      calls: chunks.length,
      instanceIds: instances.map((i) => i.id),
    });
    return instances;
  }

  /** The startup script a launch of `request` sends; see CloudProvider.bootScriptFor. */
  bootScriptFor(request: LaunchRequest): string {
    return renderStartupScript(request, this.#script);
  }

  /**
   * Deletes each instance (`zone/name`) and waits for the deletions. Instances GCE does not know (long gone, or never
   * ours) and ids that are not `zone/name` count as gone. Every delete of the batch is sent, whatever an earlier one
   * answered: when some are refused (deletion protection, a 5xx), the others are still deleted, and a
   * PartialTerminateError names each instance's outcome; when none ended, the first refusal is thrown as translated.
   */
  async terminate(instanceIds: readonly string[], opts: CallOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    const started: Array<{ id: string; zone: string; operation: GceOperation }> = [];
    const failed: Array<{ id: string; error: Error }> = [];
    const gone: string[] = [];
    const ids = [...new Set(instanceIds)];
    for (const id of ids) {
      const parsed = parseInstanceId(id);
      if (!parsed) {
        this.#log.info('skipped unknown instances', { instanceIds: [id], reason: 'not a zone/name id' });
        gone.push(id);
        continue;
      }
      const ctx = { doing: `terminating instance ${id}`, call: 'compute.instances.delete' };
      try {
        await this.#limiter.mutation(opts.signal);
        const operation = await this.#api.delete(
          { project: this.#config.project, zone: parsed.zone, instance: parsed.name },
          { signal: opts.signal },
        );
        started.push({ id, zone: parsed.zone, operation });
      } catch (err) {
        if (opts.signal?.aborted) throw this.#translate(err, opts.signal, ctx);
        if (gceErrorMeaning(err) === 'notFound') {
          this.#log.info('skipped unknown instances', { instanceIds: [id], reason: 'not found' });
          gone.push(id);
        } else {
          failed.push({ id, error: this.#translate(err, opts.signal, ctx) });
        }
      }
    }
    for (const { id, zone, operation } of started) {
      const ctx = { doing: `terminating instance ${id}`, call: 'compute.instances.delete' };
      try {
        await this.#finished(operation, zone, ctx.doing, opts.signal);
        gone.push(id);
      } catch (err) {
        if (opts.signal?.aborted) throw this.#translate(err, opts.signal, ctx);
        if (gceErrorMeaning(err) === 'notFound') gone.push(id);
        else failed.push({ id, error: this.#translate(err, opts.signal, ctx) });
      }
    }
    const terminated = started.map((s) => s.id).filter((id) => !failed.some((f) => f.id === id));
    if (terminated.length > 0) this.#log.info('terminated instances', { instanceIds: terminated });
    if (failed.length === 0) return;
    this.#log.warn('could not terminate instances', {
      instanceIds: failed.map((f) => f.id),
      errors: failed.map((f) => f.error.message),
    });
    if (gone.length === 0) throw failed[0]!.error;
    throw new PartialTerminateError(
      `terminating ${ids.length} instance(s)`,
      gone,
      failed.map((f) => ({
        instanceId: f.id,
        error: f.error.message,
        retryable: f.error instanceof SpillwayError ? f.error.retryable : true,
      })),
    );
  }

  /**
   * Every instance labelled with `clusterId` in the configured zones, whatever its status, following every page. The
   * label is checked here again: what the answer holds without it is dropped, logged and reported, never returned.
   */
  async list(clusterId: string, opts: CallOptions = {}): Promise<Instance[]> {
    opts.signal?.throwIfAborted();
    const found: Instance[] = [];
    for (const zone of this.#config.zones) {
      found.push(
        ...(await this.#listZone(
          zone,
          `labels.${LABEL_CLUSTER} = "${clusterId}"`,
          `listing cluster ${clusterId}'s instances in ${zone}`,
          { clusterId },
          opts.signal,
        )),
      );
    }
    return found.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Closes the SDK clients' connections. */
  async close(): Promise<void> {
    await this.#api.close();
  }

  /**
   * The instances of a launch intent that exist: those in its zone carrying the cluster's and the intent's labels and
   * one of the intent's names, at most `count`. Anyone else's instance in the zone is never taken for the intent's.
   */
  #intentInstances(request: LaunchRequest, doing: string, signal: AbortSignal | undefined): Promise<Instance[]> {
    const { offering, intentId, clusterId, count } = request;
    const expectedIds = new Set(
      Array.from({ length: count }, (_, i) => instanceId(offering.zone, instanceName(intentId, i))),
    );
    return this.#listZone(
      offering.zone,
      `labels.${LABEL_INTENT} = "${intentId}"`,
      `${doing}: looking up its instances`,
      { clusterId, intentId, expectedIds, atMost: count },
      signal,
    );
  }

  async #listZone(
    zone: string,
    filter: string,
    doing: string,
    ownership: Ownership,
    signal: AbortSignal | undefined,
  ): Promise<Instance[]> {
    const found: Instance[] = [];
    let pageToken: string | undefined;
    do {
      let page;
      try {
        await this.#limiter.list(signal);
        page = await this.#api.list(
          {
            project: this.#config.project,
            zone,
            filter,
            maxResults: this.#listPageSize,
            ...(pageToken ? { pageToken } : {}),
          },
          { signal },
        );
      } catch (err) {
        throw this.#translate(err, signal, { doing, call: 'compute.instances.list' });
      }
      for (const item of page.items) {
        const instance = toInstance(item, this.id);
        if (instance) found.push(instance);
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    const { owned, foreign } = splitOwned(found, ownership);
    if (foreign.length > 0) {
      this.#log.warn('dropped foreign instances', { doing, instanceIds: foreign.map((i) => i.id) });
      this.#onForeign?.(this.id, foreign, doing);
    }
    return owned;
  }

  /**
   * A call answered 409 created nothing: its names should be instances of an earlier attempt (GCE forgot the
   * requestId), but a 409 alone does not say which resource conflicted. Looks the intent's instances up and throws a
   * retryable ProviderError when one of those names is not there, so the launch never reports an instance that does
   * not exist.
   */
  async #confirmExisting(
    request: LaunchRequest,
    chunks: readonly GceLaunchChunk[],
    doing: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { intentId, offering } = request;
    const found = new Set((await this.#intentInstances(request, doing, signal)).map((i) => i.id));
    const wanted = chunks.flatMap((c) =>
      Array.from({ length: c.count }, (_, i) => instanceId(offering.zone, instanceName(intentId, c.first + i))),
    );
    const missing = wanted.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new ProviderError(
        `${doing}: Compute Engine answered that the instances already exist, but ${missing.join(', ')} ` +
          `${missing.length === 1 ? 'is' : 'are'} not there; the launch is to be retried`,
        { retryable: true },
      );
    }
    this.#log.info('found instances of an earlier attempt', { intentId, instanceIds: wanted });
  }

  /** Waits until the operation is DONE (see gce-operations.ts). */
  #finished(
    operation: GceOperation,
    zone: string,
    doing: string,
    signal: AbortSignal | undefined,
  ): Promise<GceOperation> {
    return waitForOperation(operation, {
      api: this.#api,
      limiter: this.#limiter,
      clock: this.#clock,
      project: this.#config.project,
      zone,
      timeoutMs: this.#config.operationTimeoutMs,
      doing,
      signal,
    });
  }

  /** Checks what GCE would refuse for good, before any call. */
  #validate(request: LaunchRequest, doing: string): void {
    const { offering, count } = request;
    if (offering.providerId !== this.id)
      throw new ProviderError(`${doing}: the offering belongs to ${offering.providerId}`);
    if (!Number.isInteger(count) || count < 1)
      throw new ProviderError(`${doing}: count must be a positive integer, got ${count}`);
    if (!this.#config.instanceTypes.some((t) => t.instanceType === offering.instanceType)) {
      throw new ProviderError(`${doing}: ${offering.instanceType} is not among providers.${this.id}.instanceTypes`);
    }
    if (!this.#config.zones.includes(offering.zone))
      throw new ProviderError(`${doing}: zone ${offering.zone} is not configured`);
  }

  #translate(
    err: unknown,
    signal: AbortSignal | undefined,
    ctx: { doing: string; call: string; offeringKey?: string; launch?: { template: string; instanceType: string } },
  ): Error {
    if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
    if (err instanceof ProviderError) return err;
    return translateGceError(err, {
      ...ctx,
      permissions: permissionsOf(ctx.call),
      project: this.#config.project,
      region: this.#config.region,
    });
  }
}
