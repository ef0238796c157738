import type { Agent } from '../core/agent.ts';
import type { LaunchIntent } from '../core/intent.ts';
import { formatUsd } from '../core/money.ts';
import { offeringKey, type Offering } from '../core/offering.ts';
import type { Policy } from '../core/policy.ts';
import { fits, formatResources, subtract, type Resources } from '../core/resources.ts';
// The control loop plans on task headers: it never reads a command or an output.
import type { TaskHeader as Task } from '../core/task.ts';
import { allowedOfferings } from '../cost-model/price-book-filter.ts';
import { agentHost, eligible, offeringHost, type Host } from '../pool/builtin/eligibility.ts';
import type { LaunchCommand, Waiting } from './commands.ts';
import {
  classEligibility,
  groupClasses,
  groupTasks,
  type Grouping,
  type PendingClass,
  type TaskClass,
  type TaskGroup,
} from './planner-groups.ts';
import { ownerShares } from './planner-owner-shares.ts';
import { packSteps } from './planner-packing.ts';
import type { PatternItem } from './planner-packing-types.ts';
import { runSliced, runToEnd, type SliceOptions, type Steps } from './planner-slices.ts';
import { Usage } from './planner-usage.ts';

/** Everything the planner decides from. It reads nothing else: no clock, no I/O. */
export interface PlanInput {
  readonly nowMs: number;
  readonly policy: Policy;
  /** Tasks still unplaced after this pass's placement, highest priority first. */
  readonly pending: readonly Task[];
  /** Live agents (provisioning, registered, draining). */
  readonly agents: readonly Agent[];
  /**
   * The registered agents this pass's placement saw. One registered since (not in the set) had no chance to take
   * the pending tasks: its free room counts as capacity on its way, like a provisioning agent's, and the next pass
   * places on it. Default: every registered agent was seen.
   */
  readonly placementAgentIds?: ReadonlySet<string>;
  /** Launch intents whose cloud call is not confirmed yet. */
  readonly openLaunches: readonly LaunchIntent[];
  readonly offerings: readonly Offering[];
  /** Offering keys that recently failed with a capacity error. */
  readonly unavailable: ReadonlySet<string>;
  /**
   * Offering keys an open launch breaker holds back, with why (`aws-ec2:us-east-1 refuses launches: ...`): skipped
   * like unavailable ones, and the reason of tasks that nothing else fits. Default: none.
   */
  readonly blocked?: ReadonlyMap<string, string>;
  /**
   * A further check on each new instance before it is planned (budgets): given the offering and the tasks packed into
   * it, returns why it may not launch, or undefined to allow it. Called in planning order, once per candidate until one is
   * admitted; it may keep a tally of what it admitted within this plan (budget reservations). Default: allow.
   */
  readonly admitLaunch?: (offering: Offering, tasks: readonly Task[]) => string | undefined;
}

export interface PlanResult {
  readonly launches: readonly LaunchCommand[];
  readonly waiting: readonly Waiting[];
}

/** One new instance the plan launches, and the tasks it is for. */
export interface PlannedInstance {
  readonly offering: Offering;
  readonly tasks: readonly Task[];
}

type NewBin = PlannedInstance;

/** Instances admitted between two slice ends of the admission. */
const ADMITTED_PER_SLICE = 64;

/** Other offerings tried, cheapest first, for an instance whose packed offering a limit or admitLaunch refuses. */
const ALTERNATIVES = 8;

/**
 * Plans launches for tasks that waited past the grace period (pure). Demand that in-flight launches and unregistered
 * instances will cover is subtracted first; the rest is packed into new instances at the least cost the packer finds
 * (`planner-packing.ts`: multi-dimensional first-fit-decreasing choosing each instance's offering by price per packed
 * value, then shrinking and re-packing), over every allowed provider, region and instance type. Instances are then
 * admitted in planning order (highest priority first) within the policy's limits and `admitLaunch`; tasks an
 * admitted instance cannot take are packed once more into what the limits still allow, and otherwise wait with the
 * reason. Deterministic: the same input gives the same commands.
 */
export function plan(input: PlanInput): PlanResult {
  const { instances, waiting } = planInstances(input);
  return { launches: groupLaunches(instances, input.policy), waiting };
}

/**
 * `plan` in slices (planner-slices.ts): the same result, but the event loop runs between slices of about
 * `opts.sliceMs` of work, so a process that plans also answers requests meanwhile. The input must not change until
 * it resolves (it is the controller's snapshot of this pass), and `admitLaunch` is called in the same order as by `plan`.
 */
export async function planSliced(input: PlanInput, opts: SliceOptions): Promise<PlanResult> {
  const { instances, waiting } = await runSliced(planInstanceSteps(input), opts);
  return { launches: groupLaunches(instances, input.policy), waiting };
}

/** What `planClasses` decides from: a PlanInput whose pending tasks come in classes (see PendingClass). */
export interface ClassPlanInput extends Omit<PlanInput, 'pending'> {
  /** Tasks still unplaced after this pass's placement, in classes, their queue order given by ranks. */
  readonly pending: readonly PendingClass[];
}

/** Everything the planner reads but the pending tasks. */
type PlanContext = Omit<PlanInput, 'pending'>;

/**
 * `plan` for pending tasks handed over in classes (the controller's in-memory model keeps them so): the same
 * decisions `plan` makes for the classes' tasks listed by rank, but grouping costs what the classes cost, not a key
 * per task (`groupClasses`). Waiting tasks are listed as `plan` lists them: private-only ones first, each part by rank.
 */
export function planClasses(input: ClassPlanInput): PlanResult {
  const { instances, waiting } = planClassInstances(input);
  return { launches: groupLaunches(instances, input.policy), waiting };
}

/** `planInstances` for pending tasks in classes (see `planClasses`). */
export function planClassInstances(input: ClassPlanInput): PlannedInstances {
  return runToEnd(planClassInstanceSteps(input));
}

/** Instances and the tasks that wait: `planInstances`' result. */
export interface PlannedInstances {
  readonly instances: readonly PlannedInstance[];
  readonly waiting: readonly Waiting[];
}

/** `planClassInstances` as steps (planner-slices.ts). */
function* planClassInstanceSteps(input: ClassPlanInput): Steps<PlannedInstances> {
  const { policy, nowMs } = input;
  const isDue = (task: Task): boolean => nowMs - task.pendingSinceMs >= policy.pendingGraceMs;
  const privateOnly: PendingClass[] = [];
  const due: PendingClass[] = [];
  for (const c of input.pending) {
    const dueOnly = dueTasks(c, isDue);
    if (dueOnly.tasks.length === 0) continue;
    // A class shares its constraints: private-only is decided on its first task for all of them.
    (dueOnly.tasks[0]!.constraints.privateOnly ? privateOnly : due).push(dueOnly);
  }
  const waiting = byRank(privateOnly, () => 'waits for private room (private-only task)');
  if (due.length === 0) return { instances: [], waiting };
  if (policy.paused) {
    waiting.push(...byRank(due, () => 'bursting is paused'));
    return { instances: [], waiting };
  }
  const { instances, unplaced } = yield* planGrouping(input, groupClasses(due));
  if (unplaced.size > 0) waiting.push(...byRank(due, (t) => unplaced.get(t)));
  return { instances, waiting };
}

/** The class with only the tasks `keep` keeps, and their ranks (the class itself when it keeps them all). */
function dueTasks(c: PendingClass, keep: (task: Task) => boolean): PendingClass {
  let k = 0;
  while (k < c.tasks.length && keep(c.tasks[k]!)) k++;
  if (k === c.tasks.length) return c;
  const tasks: Task[] = [];
  const ranks: number[] = [];
  c.tasks.forEach((t, i) => {
    if (keep(t)) {
      tasks.push(t);
      ranks.push(c.ranks[i]!);
    }
  });
  return { tasks, ranks };
}

/** The tasks of `classes` that `reason` gives a reason for, as waiting entries in rank order. */
function byRank(classes: readonly PendingClass[], reason: (task: Task) => string | undefined): Waiting[] {
  const found: { rank: number; taskId: string; reason: string }[] = [];
  for (const c of classes) {
    c.tasks.forEach((task, i) => {
      const why = reason(task);
      if (why !== undefined) found.push({ rank: c.ranks[i]!, taskId: task.id, reason: why });
    });
  }
  return found.sort((a, b) => a.rank - b.rank).map(({ taskId, reason: why }) => ({ taskId, reason: why }));
}

/**
 * The plan instance by instance, before launches of the same offering are merged into one command: what `plan`
 * decides, for tests and tools that check each instance's contents.
 */
export function planInstances(input: PlanInput): PlannedInstances {
  return runToEnd(planInstanceSteps(input));
}

/** `planInstances` as steps (planner-slices.ts). */
function* planInstanceSteps(input: PlanInput): Steps<PlannedInstances> {
  const { policy, nowMs } = input;
  const waiting: Waiting[] = [];
  const due: Task[] = [];
  for (const task of input.pending) {
    if (nowMs - task.pendingSinceMs < policy.pendingGraceMs) continue;
    if (task.constraints.privateOnly) {
      waiting.push({ taskId: task.id, reason: 'waits for private room (private-only task)' });
    } else {
      due.push(task);
    }
  }
  if (due.length === 0) return { instances: [], waiting };
  if (policy.paused) {
    for (const t of due) waiting.push({ taskId: t.id, reason: 'bursting is paused' });
    return { instances: [], waiting };
  }
  const { instances, unplaced } = yield* planGrouping(input, groupTasks(due));
  if (unplaced.size > 0) {
    for (const task of due) {
      const reason = unplaced.get(task);
      if (reason !== undefined) waiting.push({ taskId: task.id, reason });
    }
  }
  return { instances, waiting };
}

/**
 * Plans launches for due tasks already grouped (none private-only, bursting not paused): the instances, and why each
 * task no instance takes waits.
 */
function* planGrouping(
  input: PlanContext,
  grouping: Grouping,
): Steps<{ instances: readonly PlannedInstance[]; unplaced: ReadonlyMap<Task, string> }> {
  yield;
  const { policy } = input;
  const { classes, groups } = grouping;
  const todo = coverWithInFlight(groups, classes, inFlightBins(input));
  // Everything due is covered by capacity on its way (passes while instances boot): nothing to pack.
  if (todo.every((tasks) => tasks.length === 0)) return { instances: [], unplaced: new Map() };
  yield;
  const offerings = allowedOfferings(policy, input.offerings, skipped(input));
  yield;
  const usage = new Usage(policy, input.agents, input.openLaunches);
  yield;
  const reasons = new Map<Task, string>();
  const bins: NewBin[] = [];

  const first = yield* packAndAdmit({ input, classes, groups, todo, offerings, usage, bins, reasons });
  for (const [g, tasks] of first.unfit) {
    const why =
      blockedReason(input, classes, groups[g]!) ?? `no allowed offering fits ${formatResources(groups[g]!.size)}`;
    for (const t of tasks) reasons.set(t, why);
  }
  let left = first.refused;
  if (left.some((tasks) => tasks.length > 0)) {
    // What the limits still allow: a smaller instance may fit under them where the packed one did not.
    const within = offerings.filter((o) => usage.admits(o));
    const second = yield* packAndAdmit({ input, classes, groups, todo: left, offerings: within, usage, bins, reasons });
    for (const [g, tasks] of second.unfit) {
      const eligibility = classEligibility([classes[groups[g]!.classIndex]!], offerings);
      const cheapest = offerings.find((o, i) => eligibility[i] === 1 && fits(groups[g]!.size, o.capacity));
      const limit = cheapest ? usage.limitHit(cheapest) : undefined;
      for (const t of tasks) if (!reasons.has(t)) reasons.set(t, `burst limit reached (${limit ?? 'no room'})`);
    }
    left = second.refused;
  }
  if (left.some((tasks) => tasks.length > 0)) {
    // A packed instance refused as a whole (by a budget, a limit) must not keep waiting a task that fits on its own:
    // each one left gets the cheapest offering that holds it alone within the limits and admitLaunch.
    const eligibility = classEligibility(classes, offerings);
    const round: Round = { input, classes, groups, todo: left, offerings, usage, bins, reasons };
    const kept: Task[][] = [];
    for (const [g, tasks] of left.entries()) {
      const mine: Task[] = [];
      for (const t of tasks) {
        yield;
        if (!launchOne(round, holders([{ group: g, count: 1 }], round, eligibility), [t]).launched) mine.push(t);
      }
      kept.push(mine);
    }
    left = kept;
  }
  for (const tasks of left) {
    for (const t of tasks) if (!reasons.has(t)) reasons.set(t, 'no launch admitted');
  }
  // A task may get a reason in one round and an instance in a later one: it does not wait.
  if (reasons.size > 0) for (const bin of bins) for (const t of bin.tasks) reasons.delete(t);
  return { instances: bins, unplaced: reasons };
}

/** Offerings the plan may not use now: marked unavailable, or held back by a breaker. */
function skipped(input: PlanContext): ReadonlySet<string> {
  if (!input.blocked || input.blocked.size === 0) return input.unavailable;
  return new Set([...input.unavailable, ...input.blocked.keys()]);
}

/** The reason of the cheapest offering a breaker holds back that would fit the group, if any. */
function blockedReason(input: PlanContext, classes: readonly TaskClass[], group: TaskGroup): string | undefined {
  const { blocked } = input;
  if (!blocked || blocked.size === 0) return undefined;
  const held = allowedOfferings(
    input.policy,
    input.offerings.filter((o) => blocked.has(offeringKey(o))),
    input.unavailable,
  );
  const eligibility = classEligibility([classes[group.classIndex]!], held);
  const fitting = held.find((o, i) => eligibility[i] === 1 && fits(group.size, o.capacity));
  return fitting ? blocked.get(offeringKey(fitting)) : undefined;
}

interface Round {
  readonly input: PlanContext;
  readonly classes: readonly TaskClass[];
  readonly groups: readonly TaskGroup[];
  /** Per group, the tasks to launch for. */
  readonly todo: readonly (readonly Task[])[];
  readonly offerings: readonly Offering[];
  readonly usage: Usage;
  readonly bins: NewBin[];
  readonly reasons: Map<Task, string>;
}

/**
 * Packs `todo` over `offerings`, then admits each packed instance in planning order: its own offering, else the
 * next cheapest ones that hold the same tasks, within the limits and `admitLaunch`. Returns, per group, the tasks no
 * admitted instance took, and the groups nothing fits.
 */
function* packAndAdmit(round: Round): Steps<{ refused: Task[][]; unfit: [number, readonly Task[]][] }> {
  const { classes, groups, todo, offerings } = round;
  const eligibility = classEligibility(classes, offerings);
  yield;
  const packing = yield* packSteps({
    groups,
    counts: todo.map((t) => t.length),
    offerings,
    eligibility,
    classCount: classes.length,
  });
  const next = groups.map(() => 0);
  const refused: Task[][] = groups.map(() => []);
  for (const pattern of packing.patterns) {
    // Built once per pattern, not per instance: a pattern may repeat thousands of times.
    const own = [offerings[pattern.offering]!];
    let alternatives: Offering[] | undefined;
    const others = (): readonly Offering[] =>
      (alternatives ??= holders(pattern.items, round, eligibility)
        .filter((o) => o !== own[0])
        .slice(0, ALTERNATIVES));
    for (let r = 0; r < pattern.times; r++) {
      if (r % ADMITTED_PER_SLICE === 0) yield;
      const tasks = instanceTasks(pattern.items, todo, next);
      const outcome = launchOne(round, own, tasks, others);
      if (outcome.launched) continue;
      let at = 0;
      const taken = pattern.items.map((item) => tasks.slice(at, (at += item.count)));
      if (outcome.refusal !== undefined && owners(tasks).length > 1) {
        // admitLaunch refused the mix (a budget of one owner, say): try each owner's tasks on their own.
        for (const owner of owners(tasks)) {
          const items = pattern.items.map((item, i) => ({
            group: item.group,
            tasks: taken[i]!.filter((t) => scopeKey(t) === owner),
          }));
          const mine = items.filter((item) => item.tasks.length > 0);
          const candidates = holders(
            mine.map((item) => ({ group: item.group, count: item.tasks.length })),
            round,
            eligibility,
          ).slice(0, ALTERNATIVES + 1);
          const tasks = mine.flatMap((item) => item.tasks);
          if (!launchOne(round, candidates, tasks).launched) {
            for (const item of mine) refused[item.group]!.push(...item.tasks);
          }
        }
        continue;
      }
      pattern.items.forEach((item, i) => refused[item.group]!.push(...taken[i]!));
    }
  }
  return { refused, unfit: packing.unfit.map((g) => [g, todo[g]!] as [number, readonly Task[]]) };
}

/**
 * One instance's tasks: for each item in turn, the next `count` tasks of its group from `next[group]` on (queue
 * order), which moves past them.
 */
function instanceTasks(items: readonly PatternItem[], todo: readonly (readonly Task[])[], next: number[]): Task[] {
  if (items.length === 1) {
    const { group, count } = items[0]!;
    const start = next[group]!;
    next[group] = start + count;
    return todo[group]!.slice(start, start + count);
  }
  const tasks: Task[] = [];
  for (const { group, count } of items) {
    const list = todo[group]!;
    const start = next[group]!;
    next[group] = start + count;
    for (let k = start; k < start + count; k++) tasks.push(list[k]!);
  }
  return tasks;
}

/**
 * Launches one instance for `tasks` on the first of `candidates`, then of `more()` (asked only when needed), that the
 * limits and `admitLaunch` allow, and records it; otherwise records why the tasks wait (the last refusal, or the limit
 * the first candidate passes).
 */
function launchOne(
  round: Round,
  candidates: readonly Offering[],
  tasks: readonly Task[],
  more: () => readonly Offering[] = () => [],
): { launched: boolean; refusal?: string } {
  const { input, usage, bins, reasons } = round;
  let refusal: string | undefined;
  const admitted = (o: Offering): boolean => {
    if (!usage.admits(o)) return false;
    const why = input.admitLaunch?.(o, tasks);
    if (why === undefined) return true;
    refusal = why;
    return false;
  };
  const chosen = candidates.find(admitted) ?? more().find(admitted);
  if (chosen) {
    usage.add(chosen);
    bins.push({ offering: chosen, tasks });
    return { launched: true };
  }
  const limit = candidates[0] ? usage.limitHit(candidates[0]) : undefined;
  const why = refusal ?? (limit === undefined ? undefined : `burst limit reached (${limit})`);
  if (why !== undefined) for (const t of tasks) reasons.set(t, why);
  return refusal === undefined ? { launched: false } : { launched: false, refusal };
}

/** The budget scopes below global a task falls in, as one key: its team and project. */
function scopeKey(task: Task): string {
  return `${task.owner.team}/${task.owner.project}`;
}

/** The distinct scope keys of `tasks`, in order of first appearance. */
function owners(tasks: readonly Task[]): string[] {
  return [...new Set(tasks.map(scopeKey))];
}

/** Offerings, cheapest first, that may run every task of these items and hold them all. */
function holders(items: readonly PatternItem[], round: Round, eligibility: Uint8Array): Offering[] {
  const { groups, offerings } = round;
  let total: Resources = { cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 };
  for (const item of items) {
    const s = groups[item.group]!.size;
    total = {
      cpuMillis: total.cpuMillis + s.cpuMillis * item.count,
      memoryMiB: total.memoryMiB + s.memoryMiB * item.count,
      gpus: total.gpus + s.gpus * item.count,
      netMbps: total.netMbps + s.netMbps * item.count,
    };
  }
  return offerings.filter(
    (o, i) =>
      fits(total, o.capacity) &&
      items.every((item) => eligibility[groups[item.group]!.classIndex * offerings.length + i] === 1),
  );
}

interface InFlightBin {
  readonly host: Host;
  free: Resources;
}

/**
 * Capacity that is on its way: instances launched but not registered, agents registered since this pass's placement,
 * and launches not yet confirmed.
 */
function inFlightBins(input: PlanContext): InFlightBin[] {
  const bins: InFlightBin[] = [];
  const agentsPerIntent = new Map<string, number>();
  for (const agent of input.agents) {
    if (agent.intentId) agentsPerIntent.set(agent.intentId, (agentsPerIntent.get(agent.intentId) ?? 0) + 1);
    if (agent.state === 'provisioning') bins.push({ host: agentHost(agent), free: agent.capacity });
    else if (agent.state === 'registered' && input.placementAgentIds?.has(agent.id) === false) {
      bins.push({ host: agentHost(agent), free: subtract(agent.capacity, agent.allocated) });
    }
  }
  for (const intent of input.openLaunches) {
    const count = intent.count - (agentsPerIntent.get(intent.id) ?? 0);
    for (let i = 0; i < count; i++) bins.push({ host: offeringHost(intent.offering), free: intent.offering.capacity });
  }
  return bins;
}

/**
 * Per group, the tasks in-flight capacity does not cover: first fit, group by group in planning order, as many of a
 * group's tasks into each bin as fit.
 */
function coverWithInFlight(
  groups: readonly TaskGroup[],
  classes: readonly TaskClass[],
  bins: InFlightBin[],
): (readonly Task[])[] {
  // Nothing in flight: each group's own list (read, never written).
  if (bins.length === 0) return groups.map((g) => g.tasks);
  return groups.map((group) => {
    const task = classes[group.classIndex]!.representative;
    let covered = 0;
    for (const bin of bins) {
      if (covered === group.tasks.length) break;
      if (!fits(group.size, bin.free) || !eligible(task, bin.host)) continue;
      while (covered < group.tasks.length && fits(group.size, bin.free)) {
        bin.free = subtract(bin.free, group.size);
        covered++;
      }
    }
    return group.tasks.slice(covered);
  });
}

/** One launch command per offering, with the owners' shares of the capacity their tasks take. */
function groupLaunches(bins: readonly NewBin[], policy: Policy): LaunchCommand[] {
  const groups = new Map<string, NewBin[]>();
  // Bins share their offerings' objects: one key string per offering, not per bin.
  const keys = new Map<Offering, string>();
  for (const bin of bins) {
    let key = keys.get(bin.offering);
    if (key === undefined) keys.set(bin.offering, (key = offeringKey(bin.offering)));
    const group = groups.get(key);
    if (group) group.push(bin);
    else groups.set(key, [bin]);
  }
  const launches: LaunchCommand[] = [];
  for (const group of groups.values()) {
    const offering = group[0]!.offering;
    const tasks = group.flatMap((b) => b.tasks);
    const price = formatUsd(offering.pricePerHourMicros, 4);
    launches.push({
      kind: 'launch',
      offering,
      count: group.length,
      owners: ownerShares(tasks, offering.capacity),
      taskIds: tasks.map((t) => t.id),
      reason:
        `${tasks.length} task(s) waited over ${policy.pendingGraceMs / 1000} s with no room; ` +
        `${group.length} x ${offering.instanceType} (${offering.lifecycle}) in ${offering.zone} at ${price}/h, ` +
        `${formatUsd(Math.round((offering.pricePerHourMicros * group.length) / tasks.length), 4)}/h per task: ` +
        `the cheapest allowed fit`,
    });
  }
  return launches;
}
