import { NOT_TERMINATED_AGENT_STATES, type Agent } from '../core/agent.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, errorMessage } from '../core/errors.ts';
import type { Intent, LaunchIntent } from '../core/intent.ts';
import type { Offering } from '../core/offering.ts';
import type { Logger } from '../log/logger.ts';
import type { Policy } from '../core/policy.ts';
import type { TaskHeader } from '../core/task.ts';
import type { Pool } from '../pool/pool.ts';
import type { CloudProvider } from '../providers/provider.ts';
import type { AsyncStore } from '../store/async-store.ts';
import { FencedError } from '../store/fenced-error.ts';
import type { LeaseTenure } from '../store/fenced-store.ts';
import type { LaunchCommand, TerminateCommand, Waiting } from './commands.ts';
import { dueAfterInterruption, interruptedOfferings } from './interruptions.ts';
import { nextDueMs } from './next-due.ts';
import { PassLoop } from './pass-loop.ts';
import { launchOwnerShares, openBudgetBook, type BudgetBook } from '../cost-model/budgets.ts';
import { readBudgetInput, recordBudgetAlerts } from '../cost-model/budget-snapshot.ts';
import type { NewBudgetAlert } from '../cost-model/budget-alerts.ts';
import type { Breaker } from './breaker.ts';
import { LaunchBreakers } from './launch-breakers.ts';
import { planSliced } from './planner.ts';
import { warmRoomCheck } from './warm-placement.ts';
import { Provisioner, type CallOutcome, type LaunchContext } from './provisioner.ts';
import { reconcile } from './reconcile.ts';
import { scaleDown } from './scale-down.ts';
import { ClusterModel, nextTurn } from '../model/cluster-model.ts';
import type { TokenBucketOptions } from './token-bucket.ts';

export interface ControllerSettings {
  readonly passIntervalMs: number;
  /** Reconcile at the first pass and every N passes. */
  readonly reconcileEveryPasses: number;
  readonly leaseTtlMs: number;
  /** How long a capacity error keeps an offering out of plans. */
  readonly unavailableForMs: number;
  /** Refresh offerings every N passes; default 60. */
  readonly offeringsEveryPasses?: number;
  /** How long a stop takes to end billing, at most (budgets count that much more); default 60 s. */
  readonly terminationAllowanceMs?: number;
  /** How long a launch may take from its intent to the cloud's answer, queue and retries included; default 120 s. */
  readonly launchAllowanceMs?: number;
  /**
   * How long the loop waits after a wake-up (a submission, an agent freeing room) before its pass, so that a burst of
   * requests makes one pass; default 20 ms.
   */
  readonly wakeCoalesceMs?: number;
  /**
   * How long the planner may hold the event loop before it lets other work (the API) run, at least; default 10 ms. Only
   * when it pauses depends on it, never what it decides.
   */
  readonly planSliceMs?: number;
  /** The first backoff of a launch breaker after a refusal; default 60 s. */
  readonly refusalBackoffMs?: number;
  /** A launch breaker's backoff doubles up to this; default 30 minutes. */
  readonly refusalBackoffMaxMs?: number;
}

/** An open launch breaker and why its launches wait, as status shows it. */
export interface BreakerView extends Breaker {
  readonly reason: string;
}

/** Hooks for metrics; every one optional. */
export interface ControllerObserver {
  onPass?(report: PassReport): void;
  /** A cloud call ended. */
  onCall?(intent: Intent, outcome: CallOutcome): void;
  /** A budget's spend crossed 50, 80 or 100 percent of its cap in its period. */
  onBudgetAlert?(alert: NewBudgetAlert): void;
  /** A provider listed instances without this cluster's tag; they were left alone. */
  onForeignInstances?(providerId: string, count: number): void;
}

export interface ControllerOptions {
  readonly store: AsyncStore;
  readonly pool: Pool;
  readonly providers: readonly CloudProvider[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: ControllerSettings;
  /** Who this controller is (for the lease) and what its launches carry. */
  readonly identity: { readonly holderId: string; readonly launch: LaunchContext };
  readonly rateLimit?: (provider: CloudProvider) => TokenBucketOptions;
  readonly observer?: ControllerObserver;
  /**
   * The tenure behind `store` when `store` is a fenced view of it (src/store/fenced-store.ts), as `serve` builds it:
   * the controller records the epoch each lease grant carries, checks it right before every cloud call, and stands
   * by when the store refuses a write of an old epoch. Without it the store is used as given (one controller).
   */
  readonly tenure?: LeaseTenure;
  /**
   * Lets the event loop serve other work between a pass's stretches (and the planner's slices); default: one turn of
   * the event loop (setImmediate), so the API answers while a pass runs. A caller with nothing else to serve (the
   * simulator) may pass a cheaper one: the decisions do not depend on it.
   */
  readonly pause?: () => Promise<void>;
}

export interface PassReport {
  readonly leader: boolean;
  readonly placed: number;
  readonly launches: readonly LaunchCommand[];
  readonly terminates: readonly TerminateCommand[];
  readonly waiting: readonly Waiting[];
  /** When the next pass must run at the latest, for what this one held back (next-due.ts); absent: the interval. */
  readonly nextDueMs?: number;
}

/** The lease a controller leads by (its epoch fences the leader's writes). */
export const CONTROLLER_LEASE = 'controller';
const LEASE = CONTROLLER_LEASE;
/** Waiting reasons written per transaction (see #noteWaiting). */
const NOTE_WAITING_SLICE = 1_000;

/**
 * The control loop (DESIGN section 2). Level-triggered: each pass reads the whole state and moves it one step toward
 * the policy, so a crash between any two steps loses nothing and repeats nothing. The state is read from the
 * in-memory model (src/model/), loaded on gaining the lease and caught up with what changed since the last read, so
 * a pass costs what changed, not what exists. Only the holder of the store's lease
 * acts; another controller on the same store waits. Submissions between passes are batched into one plan.
 */
export class Controller {
  readonly #o: ControllerOptions;
  readonly #pause: () => Promise<void>;
  readonly #provisioner: Provisioner;
  readonly #breakers: LaunchBreakers;
  readonly #unavailableUntil = new Map<string, number>();
  /** The launched offering's boot time by launch intent, as read for scale-down (kept: it never changes). */
  readonly #bootMsOfIntent = new Map<string, number | undefined>();
  #offerings: Offering[] = [];
  #passes = 0;
  #leader = false;
  /** When the last lease renewal that succeeded was asked for. */
  #leaseAskedAtMs = 0;
  #leaderSinceMs = 0;
  readonly #loop: PassLoop;
  /** Aborts cloud calls in flight; only a hard stop uses it. */
  readonly #calls = new AbortController();
  /** The pool as last read (src/model/); shared with the builtin pool on the same store. */
  readonly #model: ClusterModel;

  constructor(opts: ControllerOptions) {
    this.#o = opts;
    this.#pause = opts.pause ?? nextTurn;
    this.#model = ClusterModel.of(opts.store);
    this.#loop = new PassLoop({
      clock: opts.clock,
      intervalMs: opts.settings.passIntervalMs,
      coalesceMs: opts.settings.wakeCoalesceMs ?? 20,
      // Through the instance, so a wrapped runPass (the benchmarks time it) is the one the loop runs.
      pass: async () => (await this.runPass()).nextDueMs,
      onError: (err) => {
        if (err instanceof FencedError) {
          // Another controller leads now (or this one's lease lapsed mid-pass): nothing of the pass was written.
          opts.logger.warn('the store refused a write of an old tenure; standing by', { error: errorMessage(err) });
          this.#standBy();
          return;
        }
        opts.logger.error('pass failed', { error: errorMessage(err) });
      },
    });
    this.#breakers = new LaunchBreakers({
      clock: opts.clock,
      logger: opts.logger,
      settings: {
        ...(opts.settings.refusalBackoffMs === undefined ? {} : { initialMs: opts.settings.refusalBackoffMs }),
        ...(opts.settings.refusalBackoffMaxMs === undefined ? {} : { maxMs: opts.settings.refusalBackoffMaxMs }),
      },
    });
    this.#provisioner = new Provisioner({
      breakers: this.#breakers,
      store: opts.store,
      providers: opts.providers,
      clock: opts.clock,
      logger: opts.logger,
      launchContext: opts.identity.launch,
      rateLimit: opts.rateLimit,
      signal: this.#calls.signal,
      onOutcome: (intent, outcome) => opts.observer?.onCall?.(intent, outcome),
      hold: async (intent) => {
        const now = opts.clock.now();
        if ((await opts.store.lease.holder(LEASE, now)) !== opts.identity.holderId) {
          return 'this controller does not hold the lease';
        }
        if (opts.tenure) {
          // The epoch, right before the call (an empty transaction of the fenced view is its check): a leader paused
          // past its lease (another took over) calls nothing.
          try {
            await opts.store.transaction(async () => undefined);
          } catch (err) {
            if (err instanceof FencedError) return `this controller's tenure ended: ${err.message}`;
            throw err;
          }
        }
        if (intent.kind === 'launch' && (await opts.store.policy.get()).paused) return 'bursting is paused';
        return undefined;
      },
      onUnavailable: (key, reason) => {
        this.#unavailableUntil.set(key, opts.clock.now() + opts.settings.unavailableForMs);
        opts.logger.warn('marked offering unavailable', {
          offering: key,
          forMs: opts.settings.unavailableForMs,
          reason,
        });
        this.wake();
      },
    });
  }

  /**
   * Whether this controller leads: it held the lease at its last renewal, and that renewal was asked for less than
   * `leaseTtlMs` ago. A controller whose store stopped answering (its link cut) stops claiming to lead when its lease
   * would have lapsed, even before a pass can tell it so; another controller may lead by then.
   */
  isLeader(): boolean {
    return this.#leader && this.#o.clock.now() - this.#leaseAskedAtMs < this.#o.settings.leaseTtlMs;
  }

  /** Acts as a standby from now on: the next pass that gets the lease reads the store afresh. */
  #standBy(): void {
    this.#leader = false;
    this.#o.tenure?.drop();
  }

  /**
   * Runs passes until stop(): every passIntervalMs, sooner when something the last pass held back becomes due
   * (next-due.ts), and wakeCoalesceMs after wake(). Never two passes at once.
   */
  start(): void {
    this.#loop.start();
  }

  /**
   * Stops the loop and lets queued cloud calls finish (or aborts them with `abortCalls`: their intents stay open for
   * the next start). With `release`, it then terminates every cloud instance of the cluster (see releaseAll). It
   * gives the lease up last, so no other controller acts before this one is done.
   */
  async stop(opts: { release?: string; abortCalls?: boolean } = {}): Promise<void> {
    await this.#loop.stop();
    if (opts.abortCalls) this.#calls.abort(new Error('controller stopping'));
    await this.#provisioner.settle();
    if (opts.release && this.#leader) await this.releaseAll(opts.release);
    if (this.#leader) await this.#o.store.lease.release(LEASE, this.#o.identity.holderId);
    this.#leader = false;
    this.#o.tenure?.drop();
  }

  /**
   * Terminates every cloud instance of this cluster, busy or not, and waits for the calls: those the store knows and
   * any other the providers list with the cluster's tag. Open launch intents are given up, so a later start does
   * not launch them again. For a clean shutdown of a controller whose cloud is this machine (the local demo); a
   * production controller leaves instances running and the next start reconciles them. Call it with the loop
   * stopped (stop({ release }) does). Does nothing without the lease.
   */
  async releaseAll(reason: string): Promise<number> {
    if (!this.#leader) return 0;
    const { store, clock, providers, logger } = this.#o;
    for (const intent of await store.intents.open()) {
      if (intent.kind === 'launch') await store.intents.fail(intent.id, `given up: ${reason}`, clock.now());
    }
    const terminating = terminatingInstances(await store.intents.open());
    const targets = new Map<string, TerminateCommand>();
    for (const agent of await store.agents.list({ states: NOT_TERMINATED_AGENT_STATES })) {
      if (agent.location.kind !== 'cloud' || !agent.providerId || !agent.instanceId) continue;
      targets.set(`${agent.providerId}/${agent.instanceId}`, {
        kind: 'terminate',
        agentId: agent.id,
        providerId: agent.providerId,
        instanceId: agent.instanceId,
        reason,
      });
    }
    for (const provider of providers) {
      try {
        const clusterId = this.#o.identity.launch.clusterId;
        for (const instance of await provider.list(clusterId)) {
          // Checked again where the harm would be done: only this cluster's instances are released.
          if (instance.clusterId !== clusterId) {
            logger.warn('ignored foreign instances', { providerId: provider.id, instanceIds: [instance.id] });
            this.#o.observer?.onForeignInstances?.(provider.id, 1);
            continue;
          }
          const key = `${provider.id}/${instance.id}`;
          if (targets.has(key)) continue;
          const agent = await store.agents.byInstance(provider.id, instance.id);
          targets.set(key, {
            kind: 'terminate',
            agentId: agent?.id ?? null,
            providerId: provider.id,
            instanceId: instance.id,
            reason,
          });
        }
      } catch (err) {
        logger.warn('could not list instances to release', { providerId: provider.id, error: errorMessage(err) });
      }
    }
    const release = [...targets].filter(([key]) => !terminating.has(key)).map(([, command]) => command);
    const count = (await this.#provisioner.terminateAll(release, { force: true })).reduce(
      (n, intent) => n + intent.instanceIds.length,
      0,
    );
    for (const intent of await store.intents.open()) {
      if (intent.kind === 'terminate') await this.#provisioner.execute(intent);
    }
    await this.#provisioner.settle();
    logger.info('released cloud instances', { count, reason });
    return count;
  }

  /** The open launch breakers, with the reason their launches wait (status, metrics). */
  breakers(): BreakerView[] {
    return this.#breakers.list().map((b) => ({ ...b, reason: this.#breakers.reason(b) }));
  }

  /**
   * Closes every launch breaker of a provider, named by its id (`aws-ec2:us-east-1`) or by the part after the kind,
   * after an operator fixed what it refused; the next pass may launch there again. Throws NotFoundError when no
   * configured provider has that name. Returns the provider id and how many breakers were open.
   */
  retryProvider(name: string, actor: string): { providerId: string; closed: number } {
    const provider =
      this.#o.providers.find((p) => p.id === name) ??
      this.#o.providers.find((p) => p.id.split(':').slice(1).join(':') === name);
    if (!provider) {
      throw new NotFoundError(
        `retrying provider ${name}: no such provider (configured: ${this.#o.providers.map((p) => p.id).join(', ') || 'none'})`,
      );
    }
    const closed = this.#breakers.reset(provider.id, `retried by ${actor}`);
    this.#o.logger.info('retried provider', { providerId: provider.id, closed, actor });
    this.wake();
    return { providerId: provider.id, closed };
  }

  /**
   * Asks for a pass soon: something changed that a pass may act on (a submission, an agent that registered or freed
   * room, a capacity error). Cheap and safe to call on every request: the wake-ups of a burst coalesce into one pass
   * wakeCoalesceMs after the first, and a wake-up during a pass makes one more pass after it, never a second one at
   * the same time.
   */
  wake(): void {
    this.#loop.wake();
  }

  /** Resolves when every queued cloud call has finished. */
  settle(): Promise<void> {
    return this.#provisioner.settle();
  }

  /** One pass of the loop: observe, place, plan, act, scale down, reconcile. */
  async runPass(): Promise<PassReport> {
    const { store, pool, clock, logger, settings } = this.#o;
    const idle: PassReport = { leader: false, placed: 0, launches: [], terminates: [], waiting: [] };
    const askedAtMs = clock.now();
    if (!(await store.lease.acquire(LEASE, this.#o.identity.holderId, askedAtMs, settings.leaseTtlMs))) {
      if (this.#leader) logger.warn('lost the lease; standing by');
      this.#standBy();
      return idle;
    }
    const tenure = this.#o.tenure;
    if (tenure) {
      const epoch = await store.lease.epoch(LEASE, this.#o.identity.holderId, clock.now());
      if (epoch === undefined) {
        this.#standBy();
        return idle;
      }
      // A new epoch is a new tenure (the lease lapsed meanwhile, even if nobody else took it): read afresh.
      if (tenure.held && tenure.epoch() !== epoch) this.#leader = false;
      tenure.hold(epoch);
    }
    if (!this.#leader) {
      logger.info('took the lease; acting', { holderId: this.#o.identity.holderId });
      this.#leaderSinceMs = clock.now();
    }
    // Read afresh on gaining the lease (what another leader did is unknown), else only what changed since.
    if (this.#leader) await this.#model.catchUp();
    else await this.#model.reload();
    this.#leader = true;
    this.#leaseAskedAtMs = askedAtMs;
    const first = this.#passes === 0;
    this.#passes++;

    if (pool.sync) {
      try {
        await pool.sync(clock.now());
      } catch (err) {
        // Nothing is concluded from a pool that could not be read: this pass acts on nothing new.
        logger.warn('could not read the pool', { error: errorMessage(err) });
        return { ...idle, leader: true };
      }
    }
    // The model's last page of changes is one stretch, the scan of every agent for silent ones another.
    await this.#pause();
    await pool.expireAgents(clock.now(), this.#leaderSinceMs);
    await this.#pause();
    const reconciled = first || this.#passes % settings.reconcileEveryPasses === 0 ? await this.#reconcile() : [];
    if (first || this.#offerings.length === 0 || this.#passes % (settings.offeringsEveryPasses ?? 60) === 0) {
      await this.#refreshOfferings();
    }

    // Between steps the event loop serves what waits (the API): no step holds it for the whole pass.
    await this.#pause();
    const book = await this.#budgets(clock.now());
    const warm = warmRoomCheck(await store.policy.get(), this.#offerings, clock.now());
    const placed = (
      await pool.place(
        clock.now(),
        (task, agent) => warm(task, agent) && book.admitPlacement(task, agent) === undefined,
      )
    ).length;
    // What placement saw (the model as its refresh left it): an agent registered since is capacity on its way.
    const placementAgentIds = new Set(this.#model.agents(['registered']).map((a) => a.id));
    await this.#pause();
    const now = clock.now();
    const snapshot = await pool.observe(now);
    const policy = await store.policy.get();
    await this.#model.refresh();
    const open = this.#model.openIntents();
    const openLaunches = open.filter((i): i is LaunchIntent => i.kind === 'launch');
    const pending = dueAfterInterruption(snapshot.pending, now, policy);
    // A scan of every agent: with the pool's reading, not in the planner's first slice.
    const unavailable = new Set([...this.#unavailable(now), ...interruptedOfferings(snapshot.agents)]);
    // Reading the pool is one stretch, planning starts another.
    await this.#pause();
    const result = await planSliced(
      {
        nowMs: now,
        policy,
        pending,
        agents: snapshot.agents,
        placementAgentIds,
        openLaunches,
        offerings: this.#offerings,
        unavailable,
        blocked: this.#breakers.blocked(this.#offerings),
        admitLaunch: (offering, tasks) => book.admitLaunch(offering, launchOwnerShares(tasks, offering)),
      },
      { sliceMs: settings.planSliceMs ?? 10, pause: this.#pause },
    );
    await this.#pause();
    const terminating = terminatingInstances(open);
    const lost = this.#model.agents(['lost']);
    const agents = [...snapshot.agents, ...lost];
    const relaunchMs = await this.#relaunchTimes(agents);
    // Each a scan of every agent: scale-down and acting are stretches of their own (decisions unchanged: both read
    // the snapshot and the relaunch times read above).
    await this.#pause();
    const chosen = scaleDown({
      nowMs: now,
      policy,
      agents,
      terminating,
      relaunchMsOf: (agent) => (agent.intentId ? relaunchMs.get(agent.intentId) : undefined),
    });
    // A pool with its own scheduler takes its nodes out of it before their instances go.
    const terminates = [...reconciled, ...(pool.release ? await pool.release(chosen, now) : chosen)];
    await this.#pause();

    // Act: first what crashes or retries left open, then this pass's decisions.
    for (const intent of open) {
      if (intent.kind === 'launch' && policy.paused) continue;
      await this.#provisioner.execute(intent);
    }
    for (const [i, command] of result.launches.entries()) {
      // A launch's intent and, with a cloud that answers at once, its instances' records: a stretch of its own each.
      if (i > 0) await this.#pause();
      await this.#provisioner.launch(command);
    }
    await this.#provisioner.terminateAll(terminates);

    // Scale-down and acting, then the waiting reasons (a write per changed task): each its own stretch of the loop.
    await this.#pause();
    await this.#noteWaiting(result.launches, result.waiting);

    const report: PassReport = {
      leader: true,
      placed,
      launches: result.launches,
      terminates,
      waiting: result.waiting,
      nextDueMs: this.#nextDue(now, policy, pending),
    };
    this.#o.observer?.onPass?.(report);
    return report;
  }

  /**
   * Opens this pass's budget book and carries out what hard caps require first: tasks stopped and agents terminated
   * early enough that no `preempt` budget is ever passed. Records and reports new 50/80/100 percent alerts.
   */
  async #budgets(nowMs: number): Promise<BudgetBook> {
    const { store, logger, settings } = this.#o;
    const book = openBudgetBook(
      await readBudgetInput(
        store,
        nowMs,
        {
          passIntervalMs: settings.passIntervalMs,
          terminationAllowanceMs: settings.terminationAllowanceMs ?? 60_000,
          launchAllowanceMs: settings.launchAllowanceMs ?? 120_000,
        },
        this.#model,
      ),
    );
    for (const command of book.preemptions()) {
      logger.warn('preempting for a budget', { ...command });
      if (command.kind === 'stop-task') {
        try {
          await store.tasks.requeue(command.taskId, command.agentId, command.reason, nowMs);
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err; // it finished or moved since the snapshot
        }
      } else if (command.providerId && command.instanceId) {
        await this.#provisioner.terminate(
          {
            kind: 'terminate',
            agentId: command.agentId,
            providerId: command.providerId,
            instanceId: command.instanceId,
            reason: command.reason,
          },
          { force: true },
        );
      }
    }
    for (const alert of await recordBudgetAlerts(store, book.statuses(), nowMs)) {
      logger.warn('budget alert', { ...alert });
      this.#o.observer?.onBudgetAlert?.(alert);
    }
    return book;
  }

  /** Shows people why each task waits (stored on the task; logged once per change). */
  async #noteWaiting(launches: readonly LaunchCommand[], waiting: readonly Waiting[]): Promise<void> {
    const planned = [
      ...waiting,
      ...launches.flatMap((l) =>
        l.taskIds.map((taskId) => ({ taskId, reason: `waits for ${l.offering.instanceType} being launched` })),
      ),
    ];
    const reasons = this.#o.pool.explainWaiting?.(planned) ?? planned;
    this.#o.pool.noteWaiting?.(reasons);
    // Only reasons that differ from the ones last read are written; the store still checks each. A first pass over a
    // long queue changes every reason: written a slice at a time, each its own transaction, with a turn of the event
    // loop between, so the API answers meanwhile (a reason is what people read; it needs no all-or-none).
    const news = reasons.filter((w) => this.#model.task(w.taskId)?.reason !== w.reason);
    const waits = new Map(waiting.map((w) => [w.taskId, w]));
    for (let from = 0; from < news.length; from += NOTE_WAITING_SLICE) {
      if (from > 0) await this.#pause();
      const slice = news.slice(from, from + NOTE_WAITING_SLICE);
      const changed = new Set(await this.#o.store.tasks.noteWaiting(slice));
      for (const { taskId } of slice) {
        const w = waits.get(taskId);
        if (w !== undefined && changed.has(taskId)) this.#o.logger.info('task waits', w);
      }
    }
  }

  async #reconcile(): Promise<TerminateCommand[]> {
    const { store, pool, clock, logger, providers } = this.#o;
    return reconcile({
      store,
      pool,
      providers,
      clusterId: this.#o.identity.launch.clusterId,
      clock,
      logger,
      policy: await store.policy.get(),
      onForeign: (providerId, instanceIds) => this.#o.observer?.onForeignInstances?.(providerId, instanceIds.length),
      liveAgents: async () => {
        await this.#model.refresh();
        return this.#model.agents(NOT_TERMINATED_AGENT_STATES);
      },
      pause: this.#pause,
    });
  }

  async #refreshOfferings(): Promise<void> {
    const fresh: Offering[] = [];
    for (const provider of this.#o.providers) {
      try {
        fresh.push(...(await provider.offerings()));
      } catch (err) {
        // Keep the last good offerings of this provider.
        fresh.push(...this.#offerings.filter((o) => o.providerId === provider.id));
        this.#o.logger.warn('kept last offerings', { providerId: provider.id, error: errorMessage(err) });
      }
    }
    this.#offerings = fresh;
  }

  /**
   * The boot time of the launch behind each agent that has one (scale-down keeps a node whose relaunch would cost
   * more than its idle time): read before scale-down, which is pure.
   */
  async #relaunchTimes(agents: readonly Agent[]): Promise<ReadonlyMap<string, number | undefined>> {
    for (const agent of agents) {
      // Only an idle registered cloud agent is asked about (scale-down.ts); an intent's offering never changes.
      const asked = agent.state === 'registered' && agent.location.kind === 'cloud' && agent.idleSinceMs !== null;
      if (!asked || agent.intentId === null || this.#bootMsOfIntent.has(agent.intentId)) continue;
      const intent = await this.#o.store.intents.get(agent.intentId);
      this.#bootMsOfIntent.set(agent.intentId, intent?.kind === 'launch' ? intent.offering.bootMs : undefined);
    }
    return this.#bootMsOfIntent;
  }

  /** When the next pass must run at the latest for the pending tasks, breakers and unavailable offerings it saw. */
  #nextDue(nowMs: number, policy: Policy, pending: readonly TaskHeader[]): number {
    return nextDueMs({
      nowMs,
      intervalMs: this.#o.settings.passIntervalMs,
      pendingGraceMs: policy.pendingGraceMs,
      pendingSinceMs: pending.map((t) => t.pendingSinceMs),
      breakerRetryAtMs: this.#breakers
        .list()
        .filter((b) => b.state === 'open')
        .map((b) => b.retryAtMs),
      unavailableUntilMs: this.#unavailableUntil.values(),
    });
  }

  #unavailable(nowMs: number): Set<string> {
    for (const [key, until] of this.#unavailableUntil) if (until <= nowMs) this.#unavailableUntil.delete(key);
    return new Set(this.#unavailableUntil.keys());
  }
}

/** `providerId/instanceId` of every instance an open terminate intent covers. */
function terminatingInstances(open: readonly Intent[]): Set<string> {
  return new Set(
    open.filter((i) => i.kind === 'terminate').flatMap((i) => i.instanceIds.map((id) => `${i.providerId}/${id}`)),
  );
}
