import type { LaunchIntent } from '../core/intent.ts';
import type { Micros } from '../core/money.ts';
import type { Owner, OwnerShare } from '../core/owner.ts';
import { idleOwners } from './attribution.ts';
import { billedMicros, billingRuleFor } from './billing.ts';
import { scopeContains, type BudgetScope } from './budget.ts';
import { billedThrough, type AgentInterval } from './ledger.ts';

/**
 * How long spend goes on after a decision, which a hard cap must reserve for.
 *
 * Work not stopped at a pass runs at least until the next pass decides again, and then until its stop takes effect:
 * `passIntervalMs + terminationAllowanceMs` (the horizon). A launch bills from when its intent is written for up to
 * `launchAllowanceMs` before the controller sees its agent, then for the horizon.
 */
export interface BudgetTiming {
  /** The controller's pass interval. */
  readonly passIntervalMs: number;
  /** From a stop decision until billing stops: the terminate call confirmed, a task's run recorded as ended. */
  readonly terminationAllowanceMs: number;
  /** From a launch intent being written until its instances are confirmed (retries included). */
  readonly launchAllowanceMs: number;
}

export function horizonMs(timing: BudgetTiming): number {
  return timing.passIntervalMs + timing.terminationAllowanceMs;
}

/** A task on an agent (running, or placed and about to run), with its dominant share of the agent. */
export interface TaskOnAgent {
  readonly taskId: string;
  readonly owner: Owner;
  readonly share: number;
}

/**
 * Rounding allowance, in micro-USD, per (owner, category) a scope may be charged under on one agent: attribution
 * rounds each agent's window once, so a part may be up to 1 micro-USD over its exact share, and spend counted now
 * may be up to 1 under: 2 covers both.
 */
export const ROUNDING_MICROS_PER_PART = 2;

/**
 * An upper bound of the fraction of an agent's cost a scope pays while `tasks` (at most) run on it, whatever else
 * starts or stops: its tasks' dominant shares d plus the idle part (1 - d) times its share i of the launch's owners,
 * at most 1. Attribution scales shares down when they pass one and gives the idle rest by i, so the scope pays
 * s*d + (1 - s*D)*i <= d + (1 - d)*i for any other demand. The global scope pays everything.
 */
export function scopeFraction(
  scope: BudgetScope,
  tasks: readonly TaskOnAgent[],
  idle: readonly { owner: Owner; share: number }[],
): number {
  if (scope.kind === 'global') return 1;
  let demand = 0;
  for (const t of tasks) if (scopeContains(scope, t.owner)) demand += Math.max(0, t.share);
  let idleShare = 0;
  for (const o of idle) if (scopeContains(scope, o.owner)) idleShare += o.share;
  return Math.min(1, demand + Math.max(0, 1 - demand) * Math.min(1, idleShare));
}

/** Normalized shares of a launch's owners (empty when none is recorded). */
export function normalizedShares(owners: readonly OwnerShare[]): { owner: Owner; share: number }[] {
  const valid = owners.filter((o) => Number.isFinite(o.share) && o.share > 0);
  const sum = valid.reduce((s, o) => s + o.share, 0);
  return sum > 0 ? valid.map((o) => ({ owner: o.owner, share: o.share / sum })) : [];
}

/**
 * What a cloud agent may still cost from `nowMs`: `keepMicros` if it runs until the horizon, `stopMicros` if it is
 * stopped now (billing ends within the termination allowance). Both include the minimum bill's surplus. A closed
 * interval costs nothing more; one whose termination was decided at `terminatingSinceMs` costs at most until that
 * decision's allowance runs out, whatever is decided now.
 */
export class AgentExposure {
  readonly agent: AgentInterval;
  readonly keepMicros: Micros;
  readonly stopMicros: Micros;
  readonly idle: readonly { owner: Owner; share: number }[];
  /** Running and placed tasks. */
  readonly tasks: TaskOnAgent[];
  /** Owners of every run on it the ledger slice holds, finished ones included. */
  readonly #ranFor: readonly Owner[];
  /** Tasks of this agent a preemption stops this pass (their cost ends within the termination allowance). */
  readonly stoppedTaskIds = new Set<string>();
  /** A preemption terminates it this pass. */
  terminated = false;
  /** Its termination was decided before this pass (a terminate intent is open): no more can be saved on it. */
  readonly terminating: boolean = false;

  constructor(
    agent: AgentInterval,
    runs: { readonly tasks: TaskOnAgent[]; readonly ranFor: readonly Owner[] },
    nowMs: number,
    timing: BudgetTiming,
    terminatingSinceMs: number | null = null,
  ) {
    this.agent = agent;
    this.tasks = runs.tasks;
    this.#ranFor = runs.ranFor;
    this.idle = idleOwners(agent).map((o) => ({ owner: o.owner, share: o.share }));
    if (agent.endMs !== null || agent.lifecycle === 'private') {
      this.keepMicros = 0;
      this.stopMicros = 0;
      return;
    }
    const rule = billingRuleFor(agent.provider);
    const price = agent.pricePerHourMicros;
    const atMs = Math.max(nowMs, agent.startMs);
    const sofar = billedThrough(agent, price, atMs);
    if (terminatingSinceMs !== null) {
      const untilMs = Math.max(atMs, terminatingSinceMs + timing.terminationAllowanceMs);
      this.keepMicros = billedMicros(rule, price, agent.startMs, untilMs) - sofar;
      this.stopMicros = this.keepMicros;
      this.terminating = true;
      return;
    }
    this.keepMicros = billedMicros(rule, price, agent.startMs, atMs + horizonMs(timing)) - sofar;
    this.stopMicros = billedMicros(rule, price, agent.startMs, atMs + timing.terminationAllowanceMs) - sofar;
  }

  get open(): boolean {
    return this.keepMicros > 0;
  }

  /**
   * What `scope` may still be charged on this agent, rounded up: its fraction of the cost until the stop takes
   * effect, then its fraction with the stopped tasks gone until the horizon, or nothing once terminated.
   */
  exposure(scope: BudgetScope): Micros {
    if (!this.open) return 0;
    const now = scopeFraction(scope, this.tasks, this.idle);
    if (this.terminated) return Math.ceil(now * this.stopMicros);
    if (this.stoppedTaskIds.size === 0) return Math.ceil(now * this.keepMicros);
    const after = scopeFraction(
      scope,
      this.tasks.filter((t) => !this.stoppedTaskIds.has(t.taskId)),
      this.idle,
    );
    // The whole span at today's fraction, corrected after the stop by the change in fraction: with no change (the
    // stopped tasks were not the scope's) the correction is exactly 0 and this is the line above's figure, bit for bit.
    return Math.ceil(now * this.keepMicros + (after - now) * (this.keepMicros - this.stopMicros));
  }

  /** Whether `scope` could be charged anything on this agent. */
  touches(scope: BudgetScope): boolean {
    return this.open && scopeFraction(scope, this.tasks, this.idle) > 0;
  }

  /**
   * The scope's rounding allowance on this agent, open or closed: two parts (task category and idle) per owner of the
   * scope it charged or may charge; nothing when it charges none.
   */
  roundingMicros(scope: BudgetScope): Micros {
    const owners = new Set<string>();
    const note = (owner: Owner): void => {
      if (scopeContains(scope, owner)) owners.add(JSON.stringify([owner.team, owner.project, owner.job]));
    };
    for (const t of this.tasks) note(t.owner);
    for (const owner of this.#ranFor) note(owner);
    for (const o of this.idle) note(o.owner);
    return owners.size === 0 ? 0 : ROUNDING_MICROS_PER_PART * (2 * owners.size + 1);
  }
}

/** Instances of a launch intent not yet in the ledger, and what each may bill before it can be stopped. */
export interface InFlightLaunch {
  readonly intent: LaunchIntent;
  /** Instances the ledger does not know yet. */
  readonly count: number;
  /** Per instance: billed from the intent's writing until the launch allowance and the horizon have passed. */
  readonly reserveMicros: Micros;
  readonly owners: readonly { owner: Owner; share: number }[];
}

/** The launches still in flight and their reservations (minimum bill included). */
export function inFlightLaunches(
  openLaunches: readonly LaunchIntent[],
  agents: readonly AgentInterval[],
  nowMs: number,
  timing: BudgetTiming,
): InFlightLaunch[] {
  const known = new Map<string, number>();
  for (const a of agents) if (a.intentId !== null) known.set(a.intentId, (known.get(a.intentId) ?? 0) + 1);
  const launches: InFlightLaunch[] = [];
  for (const intent of openLaunches) {
    if (intent.kind !== 'launch' || intent.state !== 'pending') continue;
    const count = Math.max(0, intent.count - (known.get(intent.id) ?? 0));
    if (count === 0) continue;
    const rule = billingRuleFor(intent.offering.provider);
    const untilMs = Math.max(nowMs, intent.createdAtMs + timing.launchAllowanceMs) + horizonMs(timing);
    launches.push({
      intent,
      count,
      reserveMicros: billedMicros(rule, intent.offering.pricePerHourMicros, intent.createdAtMs, untilMs),
      owners: normalizedShares(intent.owners),
    });
  }
  return launches;
}

/** What a new launch of one instance may bill before it can be stopped (minimum bill included). */
export function newLaunchReserveMicros(provider: string, pricePerHourMicros: Micros, timing: BudgetTiming): Micros {
  return billedMicros(billingRuleFor(provider), pricePerHourMicros, 0, timing.launchAllowanceMs + horizonMs(timing));
}

/** A scope's share of a launch's owners: 1 for global, else the shares of its owners. */
export function launchShare(scope: BudgetScope, owners: readonly { owner: Owner; share: number }[]): number {
  if (scope.kind === 'global') return 1;
  let share = 0;
  for (const o of owners) if (scopeContains(scope, o.owner)) share += o.share;
  return Math.min(1, share);
}
