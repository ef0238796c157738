import type { Clock } from '../../core/clock.ts';
import { ProviderError, SpillwayError, errorMessage } from '../../core/errors.ts';
import { bootTemplateOf, type BootScriptRenderer } from '../launch-boot-script.ts';
import type { Instance } from '../../core/instance.ts';
import { offeringKey, type Offering } from '../../core/offering.ts';
import type { AwsEc2ProviderConfig } from '../../config/schema.ts';
import type { Logger } from '../../log/logger.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../provider.ts';
import { splitOwned, type ForeignInstancesListener } from '../ownership.ts';
import { PartialTerminateError } from '../terminate-outcome.ts';
import { sdkEc2Api, type Ec2Api, type StaticCredentials } from './ec2-api.ts';
import { ec2ErrorFacts, ec2ErrorMeaning, translateEc2Error, type TranslateContext } from './ec2-errors.ts';
import { instanceIdsIn, LIVE_STATE_NAMES, toInstance } from './ec2-instances.ts';
import { ec2Offerings, subnetsByZone, type CatalogLookup } from './ec2-offerings.ts';
import { regionCatalog, type PriceBookReader } from '../catalog-offerings.ts';
import { EC2_DOCUMENTED_BUCKETS, Ec2RateLimiter, type Ec2Buckets } from './ec2-rate-limits.ts';
import { launchChunks, runInstancesInput, TAG_CLUSTER } from './launch-input.ts';
import { fetchEc2PriceUpdates, PriceRefreshCallError, type Ec2PriceUpdates } from './price-refresh.ts';
import { EC2_BOOT_TEMPLATE, renderUserData, type UserDataSettings } from './user-data.ts';

export interface AwsEc2ProviderOptions {
  readonly config: AwsEc2ProviderConfig;
  /** Rate limits and price refreshes run on this clock. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** The EC2 calls; default the SDK client the config describes. */
  readonly api?: Ec2Api;
  /** Explicit credentials for the default SDK client (tests); production uses the SDK's default chain. */
  readonly credentials?: StaticCredentials;
  /** EC2's buckets for this account; default the documented ones. */
  readonly buckets?: Ec2Buckets;
  /** Receives every successful price refresh (a price book's `apply`). */
  readonly onPriceUpdates?: (updates: Ec2PriceUpdates) => void;
  /**
   * The price catalog (a PriceBook): capacity and prices of allowed types the config leaves out. Without it every
   * type must give them.
   */
  readonly priceBook?: PriceBookReader;
  /** Renders each launch's boot script instead of the configured template (Slurm mode's node join script). */
  readonly renderBootScript?: BootScriptRenderer;
  /** Told about instances a list answered with that do not carry the cluster's tag (dropped; for metrics). */
  readonly onForeignInstances?: ForeignInstancesListener;
}

/** What a terminate did so far: instances ended (or already gone), and those EC2 would not end, with the error. */
interface TerminateOutcome {
  readonly ended: string[];
  readonly failed: Array<{ readonly id: string; readonly error: Error }>;
}

/** DescribeInstances returns at most 1,000 instances a page. */
const DESCRIBE_PAGE_SIZE = 1_000;

/**
 * The AWS EC2 adapter: one account and region. Launches run from the configured launch template with the intent id as
 * ClientToken, so a retry with the same intent returns the same instances; launches above one call's worth are split
 * into calls with derived tokens. Every call waits for EC2's buckets on the injected clock and is made once: the
 * provisioner retries on its own clock.
 * Errors (see ec2-errors.ts): CapacityError (no capacity, or the type unsupported in the zone: fail over), QuotaError
 * (instance or vCPU limits), ThrottledError, AuthError (with what to fix), ProviderError retryable for 5xx and network
 * failures (the call may have taken effect), non-retryable for refused requests and IdempotentParameterMismatch.
 */
export class AwsEc2Provider implements CloudProvider {
  readonly id: string;
  readonly kind = 'aws-ec2';
  readonly #config: AwsEc2ProviderConfig;
  readonly #catalog: CatalogLookup;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #api: Ec2Api;
  readonly #limiter: Ec2RateLimiter;
  readonly #subnets: Map<string, string>;
  readonly #userData: UserDataSettings;
  readonly #onPriceUpdates: ((updates: Ec2PriceUpdates) => void) | undefined;
  readonly #onForeign: ForeignInstancesListener | undefined;
  #prices: Ec2PriceUpdates | undefined;
  #pricesDueAtMs = 0;
  /** The unknown types the last refresh warned about, joined. */
  #unknownTypes = '';

  constructor(opts: AwsEc2ProviderOptions) {
    const { config } = opts;
    this.id = `aws-ec2:${config.name ?? config.region}`;
    this.#config = config;
    const firstZone = subnetsByZone(config).keys().next().value ?? '';
    this.#catalog = regionCatalog(opts.priceBook, 'aws-ec2', config.region, config.instanceTypes, firstZone);
    this.#clock = opts.clock;
    this.#log = opts.logger.child({ component: 'aws-ec2-provider', providerId: this.id });
    this.#api =
      opts.api ??
      sdkEc2Api({
        region: config.region,
        endpoint: config.endpoint,
        credentials: opts.credentials,
        requestTimeoutMs: config.requestTimeoutMs,
      });
    this.#limiter = new Ec2RateLimiter(opts.clock, opts.buckets ?? EC2_DOCUMENTED_BUCKETS);
    this.#subnets = subnetsByZone(config);
    this.#userData = {
      template: bootTemplate(config),
      agentCommand: config.bootScript.agentCommand,
      caFile: config.bootScript.caFile,
      render: opts.renderBootScript,
    };
    this.#onPriceUpdates = opts.onPriceUpdates;
    this.#onForeign = opts.onForeignInstances;
  }

  /**
   * The allowed types in each subnet's zone. When a price refresh is due (`priceRefreshMs`), it runs first; a failed
   * refresh is logged and the last good prices stay. Never throws for EC2's sake.
   */
  async offerings(opts: CallOptions = {}): Promise<Offering[]> {
    opts.signal?.throwIfAborted();
    if (this.#config.priceRefreshMs > 0 && this.#clock.now() >= this.#pricesDueAtMs) {
      try {
        await this.refreshPrices(opts);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        this.#log.warn('kept last prices', { error: errorMessage(err) });
      }
    }
    return ec2Offerings(this.#config, this.id, this.#prices, this.#catalog);
  }

  /**
   * Reads the allowed types' specs (DescribeInstanceTypes) and spot prices in the configured zones
   * (DescribeSpotPriceHistory), keeps them for offerings, hands them to `onPriceUpdates` and returns them. Throws
   * translated errors; the last good prices stay.
   */
  async refreshPrices(opts: CallOptions = {}): Promise<Ec2PriceUpdates> {
    const nowMs = this.#clock.now();
    let updates: Ec2PriceUpdates;
    try {
      updates = await fetchEc2PriceUpdates({
        api: this.#api,
        limiter: this.#limiter,
        region: this.#config.region,
        instanceTypes: this.#config.instanceTypes.map((t) => t.instanceType),
        zones: [...this.#subnets.keys()],
        nowMs,
        signal: opts.signal,
      });
    } catch (err) {
      this.#pricesDueAtMs = nowMs + Math.min(this.#config.priceRefreshMs, 60_000);
      const failed = err instanceof PriceRefreshCallError ? err : undefined;
      throw this.#translate(failed ? failed.cause : err, opts.signal, {
        doing: `refreshing prices in ${this.#config.region}`,
        action: failed?.action ?? 'DescribeSpotPriceHistory',
      });
    }
    this.#prices = updates;
    this.#pricesDueAtMs = nowMs + this.#config.priceRefreshMs;
    const unknown = updates.unknownTypes.join(', ');
    if (unknown !== this.#unknownTypes) {
      // Once per change: the rest refreshes every time, and the log does not repeat it every refresh.
      if (unknown !== '') {
        this.#log.warn('skipped unknown instance types', {
          region: this.#config.region,
          instanceTypes: updates.unknownTypes,
          reason: `EC2 does not know them in ${this.#config.region} (InvalidInstanceType): fix providers.${this.id}.instanceTypes`,
        });
      }
      this.#unknownTypes = unknown;
    }
    this.#log.info('refreshed prices', { specs: updates.specs.length, spotPrices: updates.spotPrices.length });
    this.#onPriceUpdates?.(updates);
    return updates;
  }

  /**
   * Launches `count` instances of the offering, all or none per call (MinCount = MaxCount), in calls of at most one
   * full instance bucket each. A retry with the same intent id returns the instances the first attempt launched.
   * When a later call of a split launch fails, the earlier calls' instances stay: reconcile adopts them by their tag.
   */
  async launch(request: LaunchRequest, opts: CallOptions = {}): Promise<Instance[]> {
    const { offering, count, intentId } = request;
    const doing = `launching ${count} x ${offering.instanceType} (${offering.lifecycle}) in ${offering.zone} for intent ${intentId}`;
    opts.signal?.throwIfAborted();
    const subnetId = this.#validate(request, doing);
    const userData = request.bootScript ?? this.bootScriptFor(request);
    const target = { launchTemplate: this.#config.launchTemplate, subnetId, userData };
    const instances: Instance[] = [];
    const chunks = launchChunks(count, this.#limiter.maxInstancesPerRun);
    for (const [index, chunkCount] of chunks.entries()) {
      await this.#limiter.runInstances(chunkCount, opts.signal);
      let reservation;
      try {
        reservation = await this.#api.runInstances(runInstancesInput(request, { index, count: chunkCount }, target), {
          signal: opts.signal,
        });
      } catch (err) {
        const part = chunks.length > 1 ? ` (call ${index + 1} of ${chunks.length})` : '';
        throw this.#translate(err, opts.signal, {
          doing: doing + part,
          action: 'RunInstances',
          offeringKey: offeringKey(offering),
          launch: { subnetId, template: templateName(this.#config.launchTemplate), instanceType: offering.instanceType },
        });
      }
      for (const sdkInstance of reservation.Instances ?? []) {
        const instance = toInstance(sdkInstance, this.id);
        if (instance) instances.push(instance);
      }
    }
    this.#log.info('launched instances', {
      intentId,
      offering: offeringKey(offering),
      calls: chunks.length,
      instanceIds: instances.map((i) => i.id),
    });
    return instances;
  }

  /** The user data (base64) a launch of `request` sends; see CloudProvider.bootScriptFor. */
  bootScriptFor(request: LaunchRequest): string {
    return renderUserData(request, this.#userData);
  }

  /**
   * Terminates in calls of up to 1,000 ids. Ids EC2 does not know (long gone, or never ours) are dropped from the call
   * and counted as gone; instances already terminated or shutting down are not an error either. A call EC2 refuses
   * for one of its instances (termination protection fails the whole zone's part of the call) is made again one
   * instance at a time, so every other instance still ends; a PartialTerminateError then names each one's outcome.
   * When nothing ended, the refusal is thrown as translated.
   */
  async terminate(instanceIds: readonly string[], opts: CallOptions = {}): Promise<void> {
    opts.signal?.throwIfAborted();
    const ids = [...new Set(instanceIds.filter((id) => id !== ''))];
    const max = this.#limiter.maxInstancesPerTerminate;
    const outcome: TerminateOutcome = { ended: [], failed: [] };
    for (let i = 0; i < ids.length; i += max) await this.#terminateBatch(ids.slice(i, i + max), opts.signal, outcome);
    if (outcome.failed.length === 0) return;
    this.#log.warn('could not terminate instances', {
      instanceIds: outcome.failed.map((f) => f.id),
      errors: outcome.failed.map((f) => f.error.message),
    });
    if (outcome.ended.length === 0) throw outcome.failed[0]!.error;
    throw new PartialTerminateError(
      `terminating ${ids.length} instance(s)`,
      outcome.ended,
      outcome.failed.map((f) => ({
        instanceId: f.id,
        error: f.error.message,
        retryable: f.error instanceof SpillwayError ? f.error.retryable : true,
      })),
    );
  }

  /**
   * Every live instance tagged with `clusterId` (pending, running, stopping, stopped), following every page. The tag
   * is checked here again: whatever the answer holds without it (a filter ignored or mistyped) is dropped, logged and
   * reported to `onForeignInstances`, never returned.
   */
  async list(clusterId: string, opts: CallOptions = {}): Promise<Instance[]> {
    opts.signal?.throwIfAborted();
    const found: Instance[] = [];
    let nextToken: string | undefined;
    do {
      await this.#limiter.describe(opts.signal);
      let page;
      try {
        page = await this.#api.describeInstances(
          {
            Filters: [
              { Name: `tag:${TAG_CLUSTER}`, Values: [clusterId] },
              { Name: 'instance-state-name', Values: [...LIVE_STATE_NAMES] },
            ],
            MaxResults: DESCRIBE_PAGE_SIZE,
            ...(nextToken ? { NextToken: nextToken } : {}),
          },
          { signal: opts.signal },
        );
      } catch (err) {
        throw this.#translate(err, opts.signal, {
          doing: `listing cluster ${clusterId}'s instances`,
          action: 'DescribeInstances',
        });
      }
      for (const reservation of page.Reservations ?? []) {
        for (const sdkInstance of reservation.Instances ?? []) {
          const instance = toInstance(sdkInstance, this.id);
          if (instance && instance.state !== 'terminated') found.push(instance);
        }
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    const { owned, foreign } = splitOwned(found, { clusterId });
    if (foreign.length > 0) {
      const doing = `listing cluster ${clusterId}'s instances`;
      this.#log.warn('dropped foreign instances', { doing, instanceIds: foreign.map((i) => i.id) });
      this.#onForeign?.(this.id, foreign, doing);
    }
    return owned.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Closes the SDK client's connections. */
  close(): void {
    this.#api.close();
  }

  async #terminateBatch(
    batch: readonly string[],
    signal: AbortSignal | undefined,
    outcome: TerminateOutcome,
  ): Promise<void> {
    let remaining = [...batch];
    while (remaining.length > 0) {
      await this.#limiter.terminateInstances(remaining.length, signal);
      try {
        await this.#api.terminateInstances({ InstanceIds: remaining }, { signal });
        this.#log.info('terminated instances', { instanceIds: remaining });
        outcome.ended.push(...remaining);
        return;
      } catch (err) {
        const meaning = ec2ErrorMeaning(err);
        const translated = (): Error =>
          this.#translate(err, signal, {
            doing: `terminating ${remaining.length} instance(s)`,
            action: 'TerminateInstances',
          });
        if (signal?.aborted) throw translated();
        if (meaning === 'client' && remaining.length > 1) {
          // One instance refused (protection): the others of its zone were not ended. Each alone finds which.
          for (const id of remaining) await this.#terminateBatch([id], signal, outcome);
          return;
        }
        if (meaning !== 'notFound') {
          for (const id of remaining) outcome.failed.push({ id, error: translated() });
          return;
        }
        const unknown = instanceIdsIn(ec2ErrorFacts(err).message, remaining);
        // EC2 named no id of ours: try them one by one, so each unknown one is found.
        const gone = unknown.length > 0 ? unknown : remaining.length === 1 ? remaining : [];
        if (gone.length === 0) {
          for (const id of remaining) await this.#terminateBatch([id], signal, outcome);
          return;
        }
        this.#log.info('skipped unknown instances', { instanceIds: gone, reason: ec2ErrorFacts(err).code });
        outcome.ended.push(...gone);
        remaining = remaining.filter((id) => !gone.includes(id));
      }
    }
  }

  /** Checks what EC2 would refuse for good, before any call; returns the offering zone's subnet. */
  #validate(request: LaunchRequest, doing: string): string {
    const { offering, count } = request;
    if (offering.providerId !== this.id)
      throw new ProviderError(`${doing}: the offering belongs to ${offering.providerId}`);
    if (!Number.isInteger(count) || count < 1)
      throw new ProviderError(`${doing}: count must be a positive integer, got ${count}`);
    if (!this.#config.instanceTypes.some((t) => t.instanceType === offering.instanceType)) {
      throw new ProviderError(`${doing}: ${offering.instanceType} is not among providers.${this.id}.instanceTypes`);
    }
    const subnetId = this.#subnets.get(offering.zone);
    if (subnetId === undefined) throw new ProviderError(`${doing}: no subnet is configured in zone ${offering.zone}`);
    return subnetId;
  }

  #translate(
    err: unknown,
    signal: AbortSignal | undefined,
    ctx: { doing: string; action: string; offeringKey?: string; launch?: TranslateContext['launch'] },
  ): Error {
    if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
    if (err instanceof ProviderError) return err;
    return translateEc2Error(err, { ...ctx, region: this.#config.region });
  }
}

/** How the config names the launch template, for messages: its id or name. */
function templateName(template: AwsEc2ProviderConfig['launchTemplate']): string {
  return template.id ?? template.name ?? 'the launch template';
}

/** The configured template (inline or file), else the built-in one. Throws a non-retryable ProviderError on a bad file. */
function bootTemplate(config: AwsEc2ProviderConfig): string {
  return bootTemplateOf(config.bootScript, EC2_BOOT_TEMPLATE);
}
