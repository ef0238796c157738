import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { Controller, type ControllerSettings, type PassReport } from '../autoscaler/controller.ts';
import { idleReleaseAfterMs } from '../autoscaler/scale-down.ts';
import { OVERDUE_BOOTS } from '../autoscaler/warm-placement.ts';
import { ManualClock } from '../core/clock.ts';
import { hashToken, newApiToken } from '../core/credentials.ts';
import { ConflictError, AccessError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { offeringKey, type Offering } from '../core/offering.ts';
import type { Policy } from '../core/policy.ts';
import type { Resources } from '../core/resources.ts';
import { seededRandom } from '../core/random.ts';
import type { BudgetSpec } from '../cost-model/budget.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { ClusterModel } from '../model/cluster-model.ts';
import { PROTOCOL_VERSION } from '../agent/protocol.ts';
import { BuiltinPool } from '../pool/builtin/builtin-pool.ts';
import { AgentRegistry } from '../pool/builtin/registry.ts';
import type { Placement } from '../pool/pool.ts';
import type { LaunchRequest } from '../providers/provider.ts';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { asyncSqliteStore } from '../store/sqlite/async-sqlite-store.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { NewTask, Store } from '../store/store.ts';
import { EventQueue } from './event-queue.ts';
import { WatchedPool } from './sim-pool.ts';
import { INTERRUPTION_NOTICE_MS, SimProvider, type SimInstance } from './sim-provider.ts';
import type { TraceTask } from './trace.ts';

/** A machine of the private cluster. */
export interface PrivateMachine {
  readonly name: string;
  readonly capacity: Resources;
  readonly labels: Readonly<Record<string, string>>;
}

/** One simulated cloud provider (one account and region) and what it offers. */
export interface SimCloud {
  readonly providerId: string;
  readonly kind: string;
  readonly offerings: readonly Offering[];
  /** Live instances per offering; default unlimited. */
  readonly capacityPerOffering?: number;
}

export interface SimulationOptions {
  /** Tasks in submission order (a trace reader's stream). */
  readonly trace: AsyncIterable<TraceTask>;
  /** The epoch millisecond a trace's second 0 falls on. */
  readonly startMs: number;
  readonly privateMachines: readonly PrivateMachine[];
  readonly clouds: readonly SimCloud[];
  readonly policy: Policy;
  readonly budgets?: readonly BudgetSpec[];
  /** The controller's settings; default the production defaults of `controller:` in spillway.yaml. */
  readonly settings?: Partial<ControllerSettings>;
  /** Seeds spot interruptions; default 1. */
  readonly seed?: number;
  /** Mean interruptions per spot instance-hour; default 0.05 (about one in 20 hours). */
  readonly spotInterruptionsPerHour?: number;
  /** Keep every pass's decisions (launches, placements, terminations) in the result; default false. */
  readonly decisionLog?: boolean;
  /** The store; default `:memory:`. */
  readonly storePath?: string;
  readonly logger?: Logger;
  /** Called now and then with how far the replay got. */
  readonly onProgress?: (progress: { readonly submitted: number; readonly nowMs: number }) => void;
}

/** What one pass decided, with trace ids for tasks and agent names for agents, so two runs compare as text. */
export interface Decision {
  readonly atMs: number;
  readonly launches: readonly {
    readonly offering: string;
    readonly count: number;
    readonly tasks: readonly string[];
  }[];
  readonly placements: readonly { readonly task: string; readonly agent: string }[];
  readonly terminates: readonly { readonly agent: string; readonly reason: string }[];
}

export interface SimulationRun {
  /** The run's store, open: the report reads its ledger and tasks. The caller closes it. */
  readonly store: Store;
  readonly startMs: number;
  readonly endMs: number;
  readonly submitted: number;
  readonly finished: number;
  /** Tasks that never started (nothing could ever hold them). */
  readonly neverStarted: number;
  /** Each started task's wait from submission to its first start, ms. */
  readonly waitsMs: Float64Array;
  /** The wait reason the controller last stored on each of those tasks before it started ('' for none), by index. */
  readonly waitReasons: readonly string[];
  /** When each cloud agent registered (its instance booted), by agent id. */
  readonly registeredAtMs: ReadonlyMap<string, number>;
  readonly passes: number;
  readonly decisions: readonly Decision[];
  readonly spotInterruptions: number;
}

export const SIM_SETTINGS: ControllerSettings = {
  passIntervalMs: 1_000,
  reconcileEveryPasses: 10,
  leaseTtlMs: 15_000,
  unavailableForMs: 180_000,
};

const CLUSTER = 'simulation';
/** Simulated agents do not heartbeat; nothing is lost for silence. */
const NEVER_LOST_MS = Number.MAX_SAFE_INTEGER / 4;
const PASS_RANK = 1;
/** After the trace's last task, a replay ends when no task has started or finished for this long. */
const STALL_MS = 7 * 86_400_000;

type SimEvent =
  | { readonly kind: 'pass' }
  | { readonly kind: 'boot'; readonly instance: SimInstance; readonly credential: string }
  | { readonly kind: 'finish'; readonly taskId: string; readonly agentId: string; readonly startedAtMs: number }
  | { readonly kind: 'notice'; readonly instance: SimInstance }
  | { readonly kind: 'reclaim'; readonly instance: SimInstance }
  | { readonly kind: 'grace'; readonly taskIds: readonly string[] };

interface TaskMeta {
  readonly traceId: string;
  readonly runMs: number;
  readonly submitMs: number;
  started: boolean;
  /** The wait reason the controller last stored on it while pending ('' for none). */
  reason: string;
}

/**
 * Replays a trace through the real controller on a simulated clock. Nothing of the product is modelled: the store
 * (SQLite), pool, placement, planner, budgets, provisioner, ledger and scale-down are the ones `spillway serve` runs;
 * the simulation supplies the clock, clouds (SimProvider) and agents, which register through the real registry
 * with their launch's bootstrap credential, pull their tasks and report each one's exit after its trace run time.
 *
 * Event-driven: the clock jumps to the next event (an arrival, a boot, a task's end, an interruption, the end of a
 * task's grace period, an agent's idle TTL) and the controller runs a pass at the first tick of its pass interval
 * at or after each event that may change a decision, the way its batching loop would; passes where nothing can
 * change are not run. A year of a cluster's trace replays in seconds.
 */
export class Simulation {
  readonly #o: SimulationOptions;
  readonly #clock: ManualClock;
  /** Seeded and read after the run through the synchronous port; every read and write during it goes through #async. */
  readonly #store: SqliteStore;
  readonly #async: AsyncStore;
  /**
   * The controller's in-memory model of this store (one per store: `ClusterModel.of`), caught up before each read: the
   * simulation asks it for task states instead of SQLite (it equals a fresh load from the store).
   */
  readonly #model: ClusterModel;
  /** The seeded policy: nothing in a simulation sets another (no API, no CLI), so it is read once. */
  readonly #policy: Policy;
  readonly #registry: AgentRegistry;
  readonly #controller: Controller;
  readonly #providers = new Map<string, SimProvider>();
  readonly #queue = new EventQueue<SimEvent>();
  readonly #settings: ControllerSettings;
  readonly #passTimes = new Set<number>();
  readonly #meta = new Map<string, TaskMeta>();
  readonly #agentNames = new Map<string, string>();
  readonly #agentInstance = new Map<string, { provider: SimProvider; instanceId: string; bootMs: number }>();
  readonly #instanceAgent = new Map<string, string>();
  readonly #decisions: Decision[] = [];
  #placed: Placement[] = [];
  #waits = new Float64Array(1024);
  readonly #waitReasons: string[] = [];
  readonly #registeredAtMs = new Map<string, number>();
  /** When, after its grace, a waiting task takes any warm room: OVERDUE_BOOTS of each distinct boot time. */
  readonly #bootTimesMs: readonly number[];
  #started = 0;
  #submitted = 0;
  #finished = 0;
  #passes = 0;
  #interruptions = 0;
  #progressAtMs = 0;

  constructor(opts: SimulationOptions) {
    this.#o = opts;
    this.#settings = { ...SIM_SETTINGS, ...opts.settings };
    this.#bootTimesMs = [...new Set(opts.clouds.flatMap((c) => c.offerings.map((o) => o.bootMs * OVERDUE_BOOTS)))];
    this.#clock = new ManualClock(opts.startMs);
    const logger = opts.logger ?? silentLogger();
    this.#store = openSqliteStore(opts.storePath ?? ':memory:');
    this.#store.meta.bindClusterId(CLUSTER);
    this.#store.policy.seed(opts.policy, opts.startMs);
    if (opts.budgets?.length) this.#store.budgets.seed(opts.budgets, opts.startMs);
    this.#policy = this.#store.policy.get();
    this.#async = asyncSqliteStore(this.#store);
    this.#model = ClusterModel.of(this.#async);
    const random = seededRandom(opts.seed ?? 1);
    for (const cloud of opts.clouds) {
      const provider = new SimProvider({
        id: cloud.providerId,
        kind: cloud.kind,
        offerings: cloud.offerings,
        clock: this.#clock,
        random,
        ...(cloud.capacityPerOffering === undefined ? {} : { capacityPerOffering: cloud.capacityPerOffering }),
        spotInterruptionsPerHour: opts.spotInterruptionsPerHour ?? 0.05,
      });
      provider.listen({
        launched: (instances, request) => this.#launched(provider, instances, request),
        terminated: () => undefined,
        // The controller fails over in its next pass, and tries the offering again once it is available.
        refused: () => {
          this.#requestPass(this.#clock.now() + 1);
          this.#requestPass(this.#clock.now() + this.#settings.unavailableForMs);
        },
      });
      this.#providers.set(provider.id, provider);
    }
    this.#registry = new AgentRegistry({
      store: this.#async,
      clock: this.#clock,
      heartbeatIntervalMs: 1_000,
      pollIntervalMs: 1_000,
      logger,
    });
    const pool = new WatchedPool(
      new BuiltinPool({ store: this.#async, logger, lostAfterMs: NEVER_LOST_MS }),
      (p) => this.#placed.push(...p),
      (waiting) => {
        for (const w of waiting) {
          const meta = this.#meta.get(w.taskId);
          if (meta && !meta.started) meta.reason = w.reason;
        }
      },
    );
    this.#controller = new Controller({
      store: this.#async,
      pool,
      providers: [...this.#providers.values()],
      clock: this.#clock,
      logger,
      settings: this.#settings,
      // Nothing else runs on the simulator's event loop: a pass's stretches need no turn of it between them.
      pause: () => Promise.resolve(),
      identity: {
        holderId: 'simulator',
        launch: {
          clusterId: CLUSTER,
          controllerUrl: 'sim://controller',
          caBundle: '',
          serverSecret: this.#store.meta.serverSecret(),
        },
      },
    });
  }

  /** Replays the whole trace, then lets the cloud empty out (idle agents released). Call once. */
  async run(): Promise<SimulationRun> {
    const iterator = this.#o.trace[Symbol.asyncIterator]();
    let next = await iterator.next();
    await this.#registerPrivate();
    this.#requestPass(this.#clock.now());
    let lastProgress = 0;
    for (;;) {
      const arrival = next.done ? undefined : this.#arrivalMs(next.value);
      const t = min(arrival, this.#queue.peekTime(), this.#clock.nextWakeAt());
      if (t === undefined) break;
      // Past the trace's end, work nothing can ever run (a launch no cloud can serve) must not loop forever.
      if (next.done && t - this.#progressAtMs > STALL_MS) break;
      // Cloud calls the clock wakes (a rate limit's wait) go on before anything else; when it wakes none, nothing waits
      // for a turn of the event loop (each pass ends with one), and the turn is not taken.
      const wakes = (this.#clock.nextWakeAt() ?? Infinity) <= t;
      this.#clock.set(t);
      if (wakes) await nextMacrotask();
      const batch: TraceTask[] = [];
      while (!next.done && this.#arrivalMs(next.value) <= t) {
        batch.push(next.value);
        next = await iterator.next();
      }
      if (batch.length > 0) await this.#submit(batch);
      let pass = false;
      while ((this.#queue.peekTime() ?? Infinity) <= t) {
        const { event } = this.#queue.pop()!;
        if (event.kind === 'pass') pass = true;
        else await this.#handle(event);
      }
      if (pass) await this.#pass();
      if (this.#o.onProgress && this.#submitted - lastProgress >= 500) {
        lastProgress = this.#submitted;
        this.#o.onProgress({ submitted: this.#submitted, nowMs: t });
      }
    }
    await this.#controller.settle();
    this.#o.onProgress?.({ submitted: this.#submitted, nowMs: this.#clock.now() });
    return {
      store: this.#store,
      startMs: this.#o.startMs,
      endMs: this.#clock.now(),
      submitted: this.#submitted,
      finished: this.#finished,
      neverStarted: [...this.#meta.values()].filter((m) => !m.started).length,
      waitsMs: this.#waits.slice(0, this.#started),
      waitReasons: this.#waitReasons,
      registeredAtMs: this.#registeredAtMs,
      passes: this.#passes,
      decisions: this.#decisions,
      spotInterruptions: this.#interruptions,
    };
  }

  #arrivalMs(task: TraceTask): number {
    return this.#o.startMs + Math.round(task.submitS * 1000);
  }

  /** Asks for a pass at the first tick of the pass interval at or after `atMs` (once per tick). */
  #requestPass(atMs: number): void {
    const interval = this.#settings.passIntervalMs;
    const tick = this.#o.startMs + Math.ceil((atMs - this.#o.startMs) / interval) * interval;
    if (this.#passTimes.has(tick)) return;
    this.#passTimes.add(tick);
    this.#queue.push(tick, { kind: 'pass' }, PASS_RANK);
  }

  async #registerPrivate(): Promise<void> {
    if (this.#o.privateMachines.length === 0) return;
    const now = this.#clock.now();
    const token = await this.#async.tokens.create(
      { id: newId('tok'), role: 'agent', name: 'simulated private agents', agentId: null, createdAtMs: now },
      hashToken(newApiToken()),
    );
    for (const machine of this.#o.privateMachines) {
      const { agentId } = await this.#registry.register(
        { kind: 'token', token },
        {
          protocolVersion: PROTOCOL_VERSION,
          name: machine.name,
          capacity: machine.capacity,
          labels: machine.labels,
          site: 'sim',
        },
      );
      this.#agentNames.set(agentId, machine.name);
    }
  }

  async #submit(batch: readonly TraceTask[]): Promise<void> {
    const now = this.#clock.now();
    const tasks: NewTask[] = batch.map((t) => ({
      owner: t.owner,
      resources: t.resources,
      priority: 0,
      revocable: t.revocable,
      constraints: t.constraints,
      command: [],
    }));
    const inserted = await this.#async.tasks.insert(tasks, now);
    inserted.forEach((task, i) => {
      const source = batch[i]!;
      this.#meta.set(task.id, {
        traceId: source.id,
        runMs: Math.round(source.runS * 1000),
        submitMs: now,
        started: false,
        reason: '',
      });
    });
    this.#submitted += batch.length;
    this.#progressAtMs = now;
    this.#requestPass(now);
    // Past its grace, a task that still waits makes the planner launch for it; OVERDUE_BOOTS boots later, it takes
    // any warm room (its own instance is overdue: warm-placement.ts).
    const graceMs = this.#policy.pendingGraceMs;
    const taskIds = inserted.map((t) => t.id);
    for (const afterMs of [0, ...this.#bootTimesMs])
      this.#queue.push(now + graceMs + afterMs, { kind: 'grace', taskIds });
  }

  async #handle(event: Exclude<SimEvent, { kind: 'pass' }>): Promise<void> {
    const now = this.#clock.now();
    switch (event.kind) {
      case 'boot':
        return this.#boot(event.instance, event.credential);
      case 'grace': {
        // A grace period's end matters only where the planner may launch: not while paused, not without clouds.
        if (this.#o.clouds.length === 0 || this.#policy.paused) return;
        await this.#model.refresh();
        if (event.taskIds.some((id) => this.#model.task(id)?.state === 'pending')) this.#requestPass(now);
        return;
      }
      case 'finish': {
        await this.#model.refresh();
        const task = this.#model.task(event.taskId); // undefined once finished (the model holds live tasks)
        if (task?.state !== 'running' || task.agentId !== event.agentId || task.startedAtMs !== event.startedAtMs)
          return;
        const where = this.#agentInstance.get(event.agentId);
        if (where && !where.provider.isLive(where.instanceId)) return; // its machine is gone; the controller requeues it
        // An exit makes no task pending: whether any task waits is known from the model as just refreshed.
        const waiting = this.#model.pending().length > 0;
        await this.#registry.report(event.agentId, event.taskId, { kind: 'exit', exitCode: 0, outputTail: '' });
        this.#meta.delete(event.taskId);
        this.#finished++;
        this.#progressAtMs = now;
        // Room is free: a pass places what waits (nothing waits: nothing to place).
        if (waiting) this.#requestPass(now);
        // The pass that finds the agent idle long enough to release (scale-down's rule).
        if (where) this.#requestPass(now + idleReleaseAfterMs(this.#policy, where.bootMs));
        return;
      }
      case 'notice': {
        const provider = this.#providers.get(event.instance.providerId)!;
        if (!provider.isLive(event.instance.id)) return;
        this.#interruptions++;
        const agentId = this.#instanceAgent.get(event.instance.id);
        if (agentId) {
          const running = (await this.#async.tasks.list({ agentId, states: ['running'] })).map((t) => t.id);
          await this.#registry.heartbeat(agentId, { runningTaskIds: running, notice: 'interruption' });
        }
        this.#queue.push(now + INTERRUPTION_NOTICE_MS, { kind: 'reclaim', instance: event.instance });
        this.#requestPass(now);
        return;
      }
      case 'reclaim':
        this.#providers.get(event.instance.providerId)!.reclaim(event.instance.id);
        this.#requestPass(now);
        return;
    }
  }

  #launched(provider: SimProvider, instances: readonly SimInstance[], request: LaunchRequest): void {
    for (const instance of instances) {
      this.#queue.push(instance.bootAtMs, { kind: 'boot', instance, credential: request.bootstrap.credential });
      if (instance.interruptAtMs !== null) this.#queue.push(instance.interruptAtMs, { kind: 'notice', instance });
      void provider;
    }
  }

  /** The instance is up: its agent registers with the launch's bootstrap credential, as the boot script's agent does. */
  async #boot(instance: SimInstance, credential: string): Promise<void> {
    const provider = this.#providers.get(instance.providerId)!;
    if (!provider.isLive(instance.id)) return;
    try {
      const { agentId } = await this.#registry.register(
        { kind: 'bootstrap', credential },
        {
          protocolVersion: PROTOCOL_VERSION,
          name: instance.id,
          capacity: instance.offering.capacity,
          labels: instance.offering.labels,
          instanceId: instance.id,
        },
        // The simulated cloud is its own attestor: it knows which instance boots.
        { instanceId: instance.id },
      );
      this.#agentNames.set(agentId, instance.id);
      this.#agentInstance.set(agentId, { provider, instanceId: instance.id, bootMs: instance.offering.bootMs });
      this.#instanceAgent.set(instance.id, agentId);
      this.#registeredAtMs.set(agentId, this.#clock.now());
      this.#requestPass(this.#clock.now());
      this.#requestPass(this.#clock.now() + idleReleaseAfterMs(this.#policy, instance.offering.bootMs));
    } catch (err) {
      // Terminated while booting, or too late for its credential: the controller releases it.
      if (!(err instanceof ConflictError || err instanceof AccessError)) throw err;
    }
  }

  async #pass(): Promise<void> {
    const now = this.#clock.now();
    this.#passTimes.delete(now);
    this.#placed = [];
    const report = await this.#controller.runPass();
    this.#passes++;
    await nextMacrotask(); // the pass's cloud calls run (they resolve at once unless a rate limit waits on the clock)
    const placed = this.#placed;
    const agents = new Set(placed.map((p) => p.agentId));
    for (const agentId of agents) {
      for (const task of (await this.#registry.pull(agentId)).tasks) {
        const meta = this.#meta.get(task.id);
        if (!meta) continue;
        this.#progressAtMs = now;
        if (!meta.started) {
          meta.started = true;
          this.#recordWait(now - meta.submitMs, meta.reason);
        }
        this.#queue.push(now + meta.runMs, { kind: 'finish', taskId: task.id, agentId, startedAtMs: now });
      }
    }
    if (report.terminates.length > 0 && report.waiting.length > 0) this.#requestPass(now + 1); // freed limits: plan again
    if (report.waiting.length > 0 && this.#o.budgets?.length) this.#requestPass(nextHourMs(now)); // a new budget period
    if (this.#o.decisionLog) this.#log(now, report, placed);
  }

  #recordWait(ms: number, reason: string): void {
    this.#waitReasons.push(reason);
    if (this.#started === this.#waits.length) {
      const grown = new Float64Array(this.#waits.length * 2);
      grown.set(this.#waits);
      this.#waits = grown;
    }
    this.#waits[this.#started++] = ms;
  }

  #log(atMs: number, report: PassReport, placed: readonly Placement[]): void {
    // A task no longer in #meta has finished: named by its id.
    const trace = (id: string): string => this.#meta.get(id)?.traceId ?? id;
    const agent = (id: string | null): string => (id ? (this.#agentNames.get(id) ?? id) : '(unknown)');
    if (report.launches.length + placed.length + report.terminates.length === 0) return;
    this.#decisions.push({
      atMs,
      launches: report.launches.map((l) => ({
        offering: offeringKey(l.offering),
        count: l.count,
        tasks: l.taskIds.map(trace),
      })),
      placements: placed.map((p) => ({ task: trace(p.taskId), agent: agent(p.agentId) })),
      terminates: report.terminates.map((t) => ({ agent: agent(t.agentId), reason: t.reason })),
    });
  }
}

function min(...values: (number | undefined)[]): number | undefined {
  let best: number | undefined;
  for (const v of values) if (v !== undefined && (best === undefined || v < best)) best = v;
  return best;
}

function nextHourMs(nowMs: number): number {
  return (Math.floor(nowMs / 3_600_000) + 1) * 3_600_000;
}
