import PQueue from 'p-queue';
import type { Clock } from '../core/clock.ts';
import { bootstrapCredential } from '../core/credentials.ts';
import { CapacityError, QuotaError, SpillwayError, errorMessage, refusalOf } from '../core/errors.ts';
import { failpoint } from '../core/failpoints.ts';
import { newIntentId } from '../core/ids.ts';
import type { Intent, LaunchIntent, TerminateIntent } from '../core/intent.ts';
import { offeringKey } from '../core/offering.ts';
import { DEFAULT_OWNER } from '../core/owner.ts';
import { isZero } from '../core/resources.ts';
import type { Logger } from '../log/logger.ts';
import type { CloudProvider, LaunchRequest } from '../providers/provider.ts';
import { PartialTerminateError } from '../providers/terminate-outcome.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { LaunchCommand, TerminateCommand } from './commands.ts';
import type { BreakerTarget } from './breaker.ts';
import type { LaunchBreakers, LaunchVerdict } from './launch-breakers.ts';
import { TokenBucket, type TokenBucketOptions } from './token-bucket.ts';

/** What every launch carries so the new instance can join the pool. */
export interface LaunchContext {
  readonly clusterId: string;
  readonly controllerUrl: string;
  readonly caBundle: string;
  readonly serverSecret: Buffer;
}

export interface ProvisionerOptions {
  readonly store: AsyncStore;
  readonly providers: readonly CloudProvider[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly launchContext: LaunchContext;
  /** Called when an offering has no capacity (or its quota is spent): the planner skips it for a while. */
  readonly onUnavailable: (offeringKey: string, reason: string) => void;
  /** API rate limit per provider; default 10 calls, refilled 5 per second. */
  readonly rateLimit?: (provider: CloudProvider) => TokenBucketOptions;
  /** Calls in flight per provider; default 4. */
  readonly concurrency?: number;
  /**
   * Asked right before each cloud call: a reason to hold the intent (it stays open, for whoever acts next), or
   * undefined to go ahead. The controller holds every call once it has lost the lease, and launches while paused.
   */
  readonly hold?: (intent: Intent) => Promise<string | undefined>;
  /** Aborts cloud calls in flight (a hard stop); an aborted call leaves its intent open. */
  readonly signal?: AbortSignal;
  /** Told how each cloud call ended, for metrics. */
  readonly onOutcome?: (intent: Intent, outcome: CallOutcome) => void;
  /**
   * The launch breakers: a launch whose provider or offering a breaker holds back is given up without a call (its
   * tasks wait with the breaker's reason), and every launch call's verdict is told to them. Default: none.
   */
  readonly breakers?: LaunchBreakers;
}

/**
 * How a cloud call ended: done, or the class of its failure (`retry`: it will be tried again; `refused`: the cloud
 * refused it for good and a breaker holds the next ones back).
 */
export type CallOutcome = 'done' | 'capacity' | 'quota' | 'refused' | 'failed' | 'retry';

/** Instances one terminate intent covers at most (EC2 takes up to 1,000 ids a call). */
const TERMINATE_BATCH = 1_000;

/** After this many failed attempts a retryable intent is given up (reconcile still adopts what it launched). */
const MAX_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 30_000;

interface Lane {
  readonly provider: CloudProvider;
  readonly queue: PQueue;
  readonly bucket: TokenBucket;
}

/**
 * Carries out the planner's commands. Each command is first written as an intent (one transaction); the cloud call
 * then runs through the provider's queue (bounded concurrency) and token bucket (the cloud's rate limits). An intent
 * left open by a crash or a retryable failure is executed again with the same idempotency key, after a backoff on the
 * clock. The SDKs' own retries are off; these are the only retries.
 */
export class Provisioner {
  readonly #opts: ProvisionerOptions;
  readonly #lanes = new Map<string, Lane>();
  readonly #inFlight = new Set<string>();
  readonly #notBefore = new Map<string, number>();

  constructor(opts: ProvisionerOptions) {
    this.#opts = opts;
    for (const provider of opts.providers) {
      const limit = opts.rateLimit?.(provider) ?? { capacity: 10, refillPerSecond: 5 };
      this.#lanes.set(provider.id, {
        provider,
        queue: new PQueue({ concurrency: opts.concurrency ?? 4 }),
        bucket: new TokenBucket(opts.clock, limit),
      });
    }
  }

  /** Records a launch intent and queues its cloud call. */
  async launch(command: LaunchCommand): Promise<LaunchIntent> {
    const now = this.#opts.clock.now();
    const intent: LaunchIntent = {
      id: newIntentId(),
      kind: 'launch',
      providerId: command.offering.providerId,
      offering: command.offering,
      count: command.count,
      owners: command.owners,
      reason: command.reason,
      state: 'pending',
      instanceIds: [],
      createdAtMs: now,
      updatedAtMs: now,
      attempts: 0,
      error: '',
    };
    failpoint('intent.writing');
    await this.#opts.store.intents.insert(intent);
    this.#opts.logger.info('decided launch', {
      intentId: intent.id,
      offering: offeringKey(intent.offering),
      count: intent.count,
      reason: intent.reason,
    });
    failpoint('intent.written');
    await this.execute(intent);
    return intent;
  }

  /**
   * Drains the agent (if still registered and idle) and records a terminate intent in one transaction, then queues
   * the call. Returns undefined when the agent took work since the plan, unless `force` (a shutdown or a budget that
   * releases it anyway: the agent's tasks return to pending when its instance is gone).
   */
  async terminate(command: TerminateCommand, opts: { force?: boolean } = {}): Promise<TerminateIntent | undefined> {
    return (await this.terminateAll([command], opts))[0];
  }

  /**
   * The same for many instances, as one intent per provider and up to TERMINATE_BATCH instances, so a large
   * scale-down costs few cloud calls. Instances whose agent took work since the plan are left out (unless `force`).
   */
  async terminateAll(commands: readonly TerminateCommand[], opts: { force?: boolean } = {}): Promise<TerminateIntent[]> {
    // Most passes terminate nothing: no transaction for them (on SQLite it would take the write lock for nothing).
    if (commands.length === 0) return [];
    const { store, clock } = this.#opts;
    const now = clock.now();
    const intents = await store.transaction(async (): Promise<TerminateIntent[]> => {
      const byProvider = new Map<string, TerminateCommand[]>();
      for (const command of commands) {
        if (command.agentId) {
          const agent = await store.agents.get(command.agentId);
          if (!agent) continue;
          if (agent.state === 'registered' && !isZero(agent.allocated) && !opts.force) continue;
          // Draining takes it out of placement, and a provisioning instance can no longer register.
          if (agent.state === 'registered' || agent.state === 'provisioning') {
            await store.agents.setState(agent.id, 'draining', command.reason, now);
          }
        }
        byProvider.set(command.providerId, [...(byProvider.get(command.providerId) ?? []), command]);
      }
      const records: TerminateIntent[] = [];
      for (const [providerId, group] of byProvider) {
        for (let i = 0; i < group.length; i += TERMINATE_BATCH) {
          const batch = group.slice(i, i + TERMINATE_BATCH);
          const reasons = [...new Set(batch.map((c) => c.reason))];
          const record: TerminateIntent = {
            id: newIntentId(),
            kind: 'terminate',
            providerId,
            instanceIds: batch.map((c) => c.instanceId),
            reason: reasons.length === 1 ? reasons[0]! : reasons.join('; '),
            state: 'pending',
            createdAtMs: now,
            updatedAtMs: now,
            attempts: 0,
            error: '',
          };
          await store.intents.insert(record);
          records.push(record);
        }
      }
      return records;
    });
    for (const intent of intents) {
      for (const command of commands.filter((c) => c.providerId === intent.providerId && intent.instanceIds.includes(c.instanceId))) {
        this.#opts.logger.info('decided terminate', {
          intentId: intent.id,
          agentId: command.agentId,
          instanceId: command.instanceId,
          reason: command.reason,
        });
      }
    }
    if (intents.length > 0) failpoint('terminate.written');
    for (const intent of intents) await this.execute(intent);
    return intents;
  }

  /**
   * Queues an open intent's cloud call unless it is in flight or backing off. Safe to call every pass. Resolves once
   * the call is queued (not done: `settle` waits for that).
   */
  async execute(intent: Intent): Promise<void> {
    if (this.#inFlight.has(intent.id)) return;
    if ((this.#notBefore.get(intent.id) ?? 0) > this.#opts.clock.now()) return;
    const lane = this.#lanes.get(intent.providerId);
    if (!lane) {
      await this.#opts.store.intents.fail(intent.id, `no provider ${intent.providerId} is configured`, this.#opts.clock.now());
      this.#opts.logger.error('dropped intent', { intentId: intent.id, reason: `unknown provider ${intent.providerId}` });
      return;
    }
    this.#inFlight.add(intent.id);
    const run = intent.kind === 'launch' ? () => this.#runLaunch(lane, intent) : () => this.#runTerminate(lane, intent);
    void lane.queue
      .add(run, { priority: intent.kind === 'terminate' ? 1 : 0 })
      .catch((err: unknown) => {
        // A store that refused (a fenced write of an old tenure, a lost database): the intent stays open, recorded,
        // for whichever controller leads next; nothing was called that the store did not record.
        this.#opts.logger.warn('could not carry out intent', { intentId: intent.id, error: errorMessage(err) });
      })
      .finally(() => this.#inFlight.delete(intent.id));
  }

  /** Resolves when every queued call has finished. */
  async settle(): Promise<void> {
    await Promise.all([...this.#lanes.values()].map((lane) => lane.queue.onIdle()));
  }

  /** True when the intent must wait (logged); it stays open. */
  async #held(intent: Intent): Promise<boolean> {
    const reason = await this.#opts.hold?.(intent);
    if (reason) this.#opts.logger.info('held intent', { intentId: intent.id, kind: intent.kind, reason });
    return reason !== undefined;
  }

  async #runLaunch(lane: Lane, intent: LaunchIntent): Promise<void> {
    const { store, clock, logger, launchContext: ctx } = this.#opts;
    const { maxProvisionMs } = await store.policy.get();
    if (clock.now() - intent.createdAtMs > maxProvisionMs && intent.instanceIds.length === 0) {
      // Its instances could not register in time any more; reconcile still adopts any it did launch.
      await store.intents.fail(intent.id, `gave up: not launched within maxProvisionMs ${maxProvisionMs}`, clock.now());
      logger.warn('gave up launch', { intentId: intent.id, error: intent.error, attempts: intent.attempts });
      return;
    }
    await lane.bucket.take(1);
    if (await this.#held(intent)) return;
    const target: BreakerTarget = { providerId: intent.providerId, offeringKey: offeringKey(intent.offering) };
    const gate = this.#opts.breakers?.gate(target, intent.id) ?? { go: true };
    if (!gate.go) {
      if (intent.attempts > 0) {
        // An earlier attempt may have taken effect: keep the intent (and its idempotency key) for the breaker's time.
        this.#notBefore.set(intent.id, gate.untilMs);
        logger.debug('held launch at an open breaker', { intentId: intent.id, reason: gate.reason });
        return;
      }
      // No call: the next plan skips what the breaker holds, and the tasks say why.
      await store.intents.fail(intent.id, gate.reason, clock.now());
      this.#notBefore.delete(intent.id);
      logger.info('gave up launch at an open breaker', { intentId: intent.id, reason: gate.reason });
      return;
    }
    try {
      const request: LaunchRequest = {
        intentId: intent.id,
        clusterId: ctx.clusterId,
        offering: intent.offering,
        count: intent.count,
        owner: intent.owners[0]?.owner ?? DEFAULT_OWNER,
        bootstrap: {
          controllerUrl: ctx.controllerUrl,
          caBundle: ctx.caBundle,
          credential: bootstrapCredential(ctx.serverSecret, intent.id),
        },
      };
      // Rendered once, kept before the first call: every retry, after a restart too, sends the same bytes.
      const render = lane.provider.bootScriptFor?.bind(lane.provider);
      const bootScript =
        intent.bootScript ??
        (render ? await store.intents.fixBootScript(intent.id, render(request), clock.now()) : undefined);
      const instances = await lane.provider.launch({ ...request, bootScript }, this.#callOptions());
      failpoint('provider.returned');
      this.#opts.breakers?.record(target, { kind: 'accepted' }, intent.id);
      await store.intents.completeLaunch(
        intent.id,
        instances.map((i) => i.id),
        clock.now(),
      );
      this.#notBefore.delete(intent.id);
      this.#opts.onOutcome?.(intent, 'done');
      logger.info('launched instances', {
        intentId: intent.id,
        offering: offeringKey(intent.offering),
        instanceIds: instances.map((i) => i.id),
      });
    } catch (err) {
      this.#opts.breakers?.record(target, launchVerdict(err), intent.id);
      await this.#onFailure(intent, err);
    }
  }

  async #runTerminate(lane: Lane, intent: TerminateIntent): Promise<void> {
    const { store, clock, logger } = this.#opts;
    await lane.bucket.take(1);
    if (await this.#held(intent)) return;
    try {
      await lane.provider.terminate(intent.instanceIds, this.#callOptions());
      failpoint('provider.terminated');
      await store.intents.completeTerminate(intent, clock.now());
      this.#notBefore.delete(intent.id);
      this.#opts.onOutcome?.(intent, 'done');
      logger.info('terminated instances', { intentId: intent.id, instanceIds: intent.instanceIds, reason: intent.reason });
    } catch (err) {
      if (err instanceof PartialTerminateError) await this.#recordEnded(intent, err);
      await this.#onFailure(intent, err);
    }
  }

  /**
   * A terminate ended some of its instances: their agents are closed now (tokens revoked, tasks back to pending), and
   * the intent stays open for the rest, to be sent again after a backoff.
   */
  async #recordEnded(intent: TerminateIntent, err: PartialTerminateError): Promise<void> {
    const { store, clock, logger } = this.#opts;
    const now = clock.now();
    await store.transaction(async () => {
      for (const instanceId of err.terminated) {
        const agent = await store.agents.byInstance(intent.providerId, instanceId);
        if (agent && agent.state !== 'terminated') {
          await store.agents.setState(agent.id, 'terminated', `terminated by intent ${intent.id}: ${intent.reason}`, now);
        }
      }
    });
    logger.warn('terminated some instances', {
      intentId: intent.id,
      terminated: err.terminated,
      failed: err.failed.map((f) => ({ instanceId: f.instanceId, error: f.error })),
    });
  }

  #callOptions(): { signal?: AbortSignal } {
    return this.#opts.signal ? { signal: this.#opts.signal } : {};
  }

  async #onFailure(intent: Intent, err: unknown): Promise<void> {
    const { store, clock, logger } = this.#opts;
    const now = clock.now();
    const message = errorMessage(err);
    const what = intent.kind === 'launch' ? `launching ${intent.count} x ${offeringKey(intent.offering)}` : 'terminating';
    if (intent.kind === 'launch' && (err instanceof CapacityError || err instanceof QuotaError)) {
      await store.intents.fail(intent.id, message, now);
      this.#opts.onOutcome?.(intent, err instanceof CapacityError ? 'capacity' : 'quota');
      this.#opts.onUnavailable(offeringKey(intent.offering), message);
      logger.warn('launch failed over', { intentId: intent.id, error: message, action: 'next cheapest offering' });
      return;
    }
    const refusal = intent.kind === 'launch' ? refusalOf(err) : undefined;
    if (intent.kind === 'launch' && refusal) {
      // The breaker opened (or stays open) and logged it; the next plans skip what it holds.
      await store.intents.fail(intent.id, message, now);
      this.#notBefore.delete(intent.id);
      this.#opts.onOutcome?.(intent, 'refused');
      logger.debug('launch refused', { intentId: intent.id, what, scope: refusal.scope, code: refusal.code, error: message });
      return;
    }
    const retryable = err instanceof SpillwayError ? err.retryable : true;
    const attempts = intent.attempts + 1;
    if (refusalOf(err) || !retryable || attempts >= MAX_ATTEMPTS) {
      await store.intents.fail(intent.id, message, now);
      this.#opts.onOutcome?.(intent, 'failed');
      logger.error(`${intent.kind} failed`, { intentId: intent.id, what, error: message, attempts });
      return;
    }
    await store.intents.recordAttempt(intent.id, message, now);
    this.#opts.onOutcome?.(intent, 'retry');
    const backoffMs = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** (attempts - 1));
    this.#notBefore.set(intent.id, now + backoffMs);
    logger.warn(`${intent.kind} will be retried`, { intentId: intent.id, what, error: message, attempts, backoffMs });
  }
}

/** What a failed launch call tells the breakers: a capacity or quota answer accepted the request as valid. */
function launchVerdict(err: unknown): LaunchVerdict {
  if (err instanceof CapacityError || err instanceof QuotaError) return { kind: 'accepted' };
  const refusal = refusalOf(err);
  return refusal ? { kind: 'refused', refusal } : { kind: 'undecided' };
}
