import type { Agent } from '../core/agent.ts';
import type { LaunchIntent, TerminateIntent } from '../core/intent.ts';
import { formatUsd, type Micros } from '../core/money.ts';
import type { Offering } from '../core/offering.ts';
import type { OwnerShare } from '../core/owner.ts';
import { dominantShare } from '../core/resources.ts';
import type { Task } from '../core/task.ts';
import { billedMicros, billingRuleFor } from './billing.ts';
import { describeCap, describeScope, periodWindow, scopeContains, type Budget } from './budget.ts';
import { budgetSpend, spendStatus, type BudgetSpend } from './budget-spend.ts';
import {
  AgentExposure,
  horizonMs,
  inFlightLaunches,
  launchShare,
  newLaunchReserveMicros,
  normalizedShares,
  ROUNDING_MICROS_PER_PART,
  scopeFraction,
  type BudgetTiming,
  type InFlightLaunch,
  type TaskOnAgent,
} from './budget-exposure.ts';
import { usageByAgent, type LedgerSlice, type TimeWindow } from './ledger.ts';
import { choosePreemptions, type PreemptCommand } from './preemption.ts';

export type { BudgetTiming } from './budget-exposure.ts';
export type { PreemptCommand } from './preemption.ts';

/** Everything budgets are evaluated from. Pure data: no clock, no I/O. */
export interface BudgetInput {
  readonly nowMs: number;
  readonly budgets: readonly Budget[];
  /** The ledger from `budgetLedgerFromMs(budgets, nowMs)` to now: `store.ledger.overlapping(from, nowMs + 1)`. */
  readonly ledger: LedgerSlice;
  /** Launch intents whose cloud call is not confirmed yet: the launches of `store.intents.open()`. */
  readonly openLaunches: readonly LaunchIntent[];
  /**
   * Terminate intents not confirmed yet (the terminates of `store.intents.open()`): their agents stop billing within
   * the termination allowance of the intent's time, so no more is committed for them and nothing more stopped.
   */
  readonly openTerminations?: readonly TerminateIntent[];
  /** Tasks placed but not running yet: `store.tasks.list({ states: ['placed'] })`. They will run without asking. */
  readonly placedTasks?: readonly Pick<Task, 'id' | 'owner' | 'resources' | 'agentId'>[];
  readonly timing: BudgetTiming;
}

/** Where a budget stands in a controller pass. */
export interface BudgetStatus extends BudgetSpend {
  /**
   * What the scope may still be charged before what runs can be stopped: running agents until the horizon (minimum
   * bills included), in-flight launches, what this book admitted, and a rounding allowance.
   */
  readonly committedMicros: Micros;
}

/**
 * Budget decisions for one controller pass (DESIGN section 4), over one snapshot of the ledger. Pure apart from its
 * own tally: what it admits is reserved, so later checks in the same pass see it (the planner's "tally of what it
 * admitted within this plan"). Build a new book each pass.
 *
 * The hard-cap guarantee rests on calling it as documented: `preemptions()` once at the start of every pass, and
 * `admitPlacement` / `admitLaunch` before every placement on a cloud agent and every launch. Then at every pass each
 * `preempt` scope has spent + committed <= cap, where committed counts what runs until the next pass plus the
 * termination allowance; and stopping everything a pass later always fits within what was committed, so the cap is
 * never passed (in-flight launches and minimum bills included), as long as passes come every `passIntervalMs` and
 * stops take effect within `terminationAllowanceMs`.
 */
export class BudgetBook {
  readonly #input: BudgetInput;
  readonly #budgets: readonly Budget[];
  readonly #spent = new Map<string, Micros>();
  readonly #agents = new Map<string, AgentExposure>();
  readonly #inFlight: InFlightLaunch[];
  /** Per budget: what running agents and in-flight launches commit; recomputed after preemptions change them. */
  readonly #base = new Map<string, Micros>();
  /** Per budget: reservations of what this book admitted (launches, and placements at their largest per task). */
  readonly #admitted = new Map<string, Micros>();
  /** Per budget, per task: the largest reservation of the placements admitted for it (it lands on one agent). */
  readonly #placements = new Map<string, Map<string, Micros>>();
  #preempted = false;

  constructor(input: BudgetInput) {
    this.#input = input;
    this.#budgets = [...input.budgets].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const { nowMs, ledger, timing } = input;
    const cloud = ledger.agents.filter((a) => a.lifecycle !== 'private');
    const usage = usageByAgent(ledger.usage);
    const terminating = new Map<string, number>();
    for (const intent of input.openTerminations ?? []) {
      for (const id of intent.instanceIds) {
        const key = `${intent.providerId}/${id}`;
        terminating.set(key, Math.min(terminating.get(key) ?? Infinity, intent.createdAtMs));
      }
    }
    for (const agent of cloud) {
      const runs = usage.get(agent.agentId) ?? [];
      const tasks: TaskOnAgent[] = runs
        .filter((u) => u.endMs === null)
        .map((u) => ({ taskId: u.taskId, owner: u.owner, share: u.share }));
      const since = terminating.get(`${agent.providerId}/${agent.instanceId}`) ?? null;
      const ranFor = runs.map((u) => u.owner);
      this.#agents.set(agent.agentId, new AgentExposure(agent, { tasks, ranFor }, nowMs, timing, since));
    }
    for (const task of input.placedTasks ?? []) {
      const exposure = task.agentId === null ? undefined : this.#agents.get(task.agentId);
      if (exposure === undefined || exposure.tasks.some((t) => t.taskId === task.id)) continue;
      exposure.tasks.push({
        taskId: task.id,
        owner: task.owner,
        share: dominantShare(task.resources, exposure.agent.capacity),
      });
    }
    this.#inFlight = inFlightLaunches(input.openLaunches, ledger.agents, nowMs, timing);

    for (const spend of budgetSpend(this.#budgets, ledger, nowMs)) this.#spent.set(spend.budget.id, spend.spentMicros);
  }

  statuses(): BudgetStatus[] {
    return this.#budgets.map((budget) => ({
      ...spendStatus(budget, this.#window(budget), this.#spent.get(budget.id) ?? 0),
      committedMicros: this.committedMicros(budget),
    }));
  }

  /** What the budget's scope may still be charged (see BudgetStatus.committedMicros). */
  committedMicros(budget: Budget): Micros {
    return this.#baseOf(budget) + (this.#admitted.get(budget.id) ?? 0);
  }

  /**
   * Whether `count` new instances of `offering`, launched for `owners`, keep every budget whose scope holds one of
   * the owners within its cap: spent + committed + what the launch may bill before it can be stopped (from its
   * intent, through the launch allowance and the horizon, minimum bill included) by the scope's share of the owners.
   * Returns the first refusal's reason, or undefined when admitted (and then reserves it). The planner's
   * `admitLaunch(offering, tasks)` hook is `(o, tasks) => book.admitLaunch(o, launchOwnerShares(tasks, o))`.
   */
  admitLaunch(offering: Offering, owners: readonly OwnerShare[], count = 1): string | undefined {
    const shares = normalizedShares(owners);
    const perInstance = newLaunchReserveMicros(offering.provider, offering.pricePerHourMicros, this.#input.timing);
    const adds = new Map<string, Micros>();
    for (const budget of this.#budgets) {
      const share = launchShare(budget.scope, shares);
      if (share <= 0) continue;
      const add = Math.ceil(share * count * perInstance) + ROUNDING_MICROS_PER_PART * count;
      const refusal = this.#refusal(
        budget,
        add,
        `launching ${count} x ${offering.instanceType} (${offering.lifecycle})`,
      );
      if (refusal !== undefined) return refusal;
      adds.set(budget.id, add);
    }
    for (const [id, add] of adds) this.#admit(id, add);
    return undefined;
  }

  /**
   * Whether placing `task` on the cloud `agent` keeps every budget whose scope holds the task's owner within its cap:
   * the scope's fraction of the agent grows by the task's dominant share (less what it pays as the agent's idle
   * owner anyway), for the agent's cost until the horizon. Private agents are always admitted. An agent a
   * preemption stops this pass is refused. Returns the refusal's reason, or undefined when admitted (and reserved:
   * asking for the same task on several agents reserves the most any of them needs, since it lands on one).
   */
  admitPlacement(
    task: Pick<Task, 'id' | 'owner' | 'resources'>,
    agent: Pick<Agent, 'id' | 'capacity' | 'location' | 'pricePerHourMicros' | 'lifecycle'>,
  ): string | undefined {
    if (agent.location.kind === 'private' || agent.lifecycle === 'private') return undefined;
    const exposure = this.#agents.get(agent.id);
    if (exposure !== undefined && (exposure.terminated || exposure.terminating || exposure.stoppedTaskIds.size > 0)) {
      return `agent ${agent.id} is being stopped`;
    }
    const share = dominantShare(task.resources, agent.capacity);
    const keepMicros =
      exposure?.keepMicros ??
      billedMicros(billingRuleFor(agent.location.provider), agent.pricePerHourMicros, 0, horizonMs(this.#input.timing));
    const reserves = new Map<string, Micros>();
    for (const budget of this.#budgets) {
      if (budget.scope.kind === 'global' || !scopeContains(budget.scope, task.owner)) continue;
      const before = exposure === undefined ? 0 : fractionOf(exposure, budget, []);
      const after =
        exposure === undefined
          ? Math.min(1, share)
          : fractionOf(exposure, budget, [{ taskId: task.id, owner: task.owner, share }]);
      const reserve = Math.ceil(Math.max(0, after - before) * keepMicros) + ROUNDING_MICROS_PER_PART * 2;
      const held = this.#placements.get(budget.id)?.get(task.id) ?? 0;
      if (reserve <= held) continue;
      const refusal = this.#refusal(budget, reserve - held, `placing task ${task.id} on agent ${agent.id}`);
      if (refusal !== undefined) return refusal;
      reserves.set(budget.id, reserve);
    }
    for (const [id, reserve] of reserves) {
      let held = this.#placements.get(id);
      if (held === undefined) this.#placements.set(id, (held = new Map()));
      this.#admit(id, reserve - (held.get(task.id) ?? 0));
      held.set(task.id, reserve);
    }
    return undefined;
  }

  /**
   * For every `preempt` budget whose spent + committed passes its cap, which cloud work to stop now so that it does
   * not: first the scope's own tasks on agents other owners launched (the agent goes on for them), then whole agents
   * the scope pays for, largest saving first. Commands carry the budget and a reason a person can read; what they stop
   * is taken into account by later calls on this book. Call once per pass, before placing and planning; a second
   * call returns nothing.
   */
  preemptions(): PreemptCommand[] {
    if (this.#preempted) return [];
    this.#preempted = true;
    const commands: PreemptCommand[] = [];
    for (const budget of this.#budgets) {
      if (budget.onCap !== 'preempt') continue;
      const spent = this.#spent.get(budget.id) ?? 0;
      const projected = spent + this.committedMicros(budget);
      if (projected <= budget.capMicros) continue;
      const why =
        `budget '${budget.name}' (${describeScope(budget.scope)}, ${describeCap(budget)}, preempt): ` +
        `spent ${formatUsd(spent, 4)} + committed ${formatUsd(projected - spent, 4)} would pass the cap`;
      commands.push(...choosePreemptions(budget, projected - budget.capMicros, [...this.#agents.values()], why));
      // The stops change what every scope has committed.
      this.#base.clear();
    }
    return commands;
  }

  #refusal(budget: Budget, addMicros: Micros, doing: string): string | undefined {
    const spent = this.#spent.get(budget.id) ?? 0;
    const committed = this.committedMicros(budget);
    if (spent + committed + addMicros <= budget.capMicros) return undefined;
    return (
      `${doing} would pass budget '${budget.name}' (${describeScope(budget.scope)}, ${describeCap(budget)}): ` +
      `spent ${formatUsd(spent, 4)} + committed ${formatUsd(committed, 4)} + up to ${formatUsd(addMicros, 4)} ` +
      `> cap ${formatUsd(budget.capMicros, 4)}`
    );
  }

  #baseOf(budget: Budget): Micros {
    const cached = this.#base.get(budget.id);
    if (cached !== undefined) return cached;
    const { scope } = budget;
    let committed = 0;
    const { fromMs } = this.#window(budget);
    for (const exposure of this.#agents.values()) {
      if (exposure.touches(scope)) committed += exposure.exposure(scope);
      if ((exposure.agent.endMs ?? Infinity) > fromMs) committed += exposure.roundingMicros(scope);
    }
    for (const launch of this.#inFlight) {
      const share = launchShare(scope, launch.owners);
      if (share > 0) committed += Math.ceil(share * launch.count * launch.reserveMicros) + ROUNDING_MICROS_PER_PART;
    }
    this.#base.set(budget.id, committed);
    return committed;
  }

  #admit(budgetId: string, micros: Micros): void {
    this.#admitted.set(budgetId, (this.#admitted.get(budgetId) ?? 0) + micros);
  }

  #window(budget: Budget): TimeWindow {
    return periodWindow(budget.period, this.#input.nowMs);
  }
}

/** Builds the book of one pass. */
export function openBudgetBook(input: BudgetInput): BudgetBook {
  return new BudgetBook(input);
}

/**
 * The owners' shares of a new instance packed with `tasks`, weighted by each task's dominant share of the offering's
 * capacity (the planner's own rule for launch intents), for `BudgetBook.admitLaunch`.
 */
export function launchOwnerShares(
  tasks: readonly Pick<Task, 'owner' | 'resources'>[],
  offering: Pick<Offering, 'capacity'>,
): OwnerShare[] {
  const weights = new Map<string, OwnerShare>();
  for (const task of tasks) {
    const key = JSON.stringify(task.owner);
    const weight = Math.max(dominantShare(task.resources, offering.capacity), 1e-9);
    weights.set(key, { owner: task.owner, share: (weights.get(key)?.share ?? 0) + weight });
  }
  const total = [...weights.values()].reduce((sum, o) => sum + o.share, 0);
  return [...weights.values()].map((o) => ({ owner: o.owner, share: o.share / total }));
}

function fractionOf(exposure: AgentExposure, budget: Budget, extra: readonly TaskOnAgent[]): number {
  return scopeFraction(budget.scope, [...exposure.tasks, ...extra], exposure.idle);
}
