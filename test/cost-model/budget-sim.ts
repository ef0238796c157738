import type { LaunchIntent, TerminateIntent } from '../../src/core/intent.ts';
import type { Offering } from '../../src/core/offering.ts';
import type { Owner } from '../../src/core/owner.ts';
import { dominantShare, fits, resources, subtract, type Resources } from '../../src/core/resources.ts';
import type { Budget } from '../../src/cost-model/budget.ts';
import type { BudgetTiming } from '../../src/cost-model/budget-exposure.ts';
import { launchOwnerShares, openBudgetBook } from '../../src/cost-model/budgets.ts';
import type { AgentInterval, UsageInterval } from '../../src/cost-model/ledger.ts';

/**
 * A small cluster on a simulated clock, driven by the budget book the way the controller drives it: every pass first
 * carries out `preemptions()`, then places waiting tasks on cloud agents only when `admitPlacement` allows, then
 * launches for the rest only when `admitLaunch` allows, then releases idle agents. Launches are confirmed, and
 * terminations take effect, after random delays within the timing's allowances. Everything is recorded as ledger
 * intervals, exactly as the store records them.
 */
export interface SimTask {
  readonly owner: Owner;
  readonly resources: Resources;
  readonly arriveAtPass: number;
  readonly durationMs: number;
}

export interface SimSpec {
  readonly startMs: number;
  readonly timing: BudgetTiming;
  readonly budgets: readonly Budget[];
  readonly offerings: readonly Offering[];
  readonly tasks: readonly SimTask[];
  /** Passes with arrivals, placements and launches; then the cluster is drained until nothing runs. */
  readonly activePasses: number;
  readonly idleTtlMs: number;
  readonly bootMs: number;
  /** Random fractions in [0, 1) for the delays, consumed in order (cycled). */
  readonly delays: readonly number[];
}

export interface SimResult {
  readonly agents: readonly AgentInterval[];
  readonly usage: readonly UsageInterval[];
  readonly endMs: number;
  readonly passTimes: readonly number[];
  readonly stoppedTasks: number;
  readonly terminatedAgents: number;
  readonly refusals: number;
  readonly launches: number;
}

interface Agent {
  interval: AgentInterval & { endMs: number | null };
  readonly registeredAtMs: number;
  terminateAtMs: number | null;
  /** When the termination was decided: the open terminate intent's time. */
  terminateDecidedAtMs: number | null;
  free: Resources;
  idleSinceMs: number;
}

interface Task {
  readonly id: string;
  readonly spec: SimTask;
  state: 'future' | 'waiting' | 'running' | 'done' | 'covered';
  agentId: string | null;
  usageIndex: number;
  finishAtMs: number;
}

interface InFlight {
  readonly intent: LaunchIntent;
  readonly completeAtMs: number;
  readonly taskIds: readonly string[];
}

export function simulate(spec: SimSpec): SimResult {
  const { timing } = spec;
  let delayIndex = 0;
  const delay = (maxMs: number): number => Math.floor(spec.delays[delayIndex++ % spec.delays.length]! * (maxMs + 1));
  const agents: Agent[] = [];
  const usage: (UsageInterval & { endMs: number | null })[] = [];
  const tasks: Task[] = spec.tasks.map((t, i) => ({
    id: `t-${i}`,
    spec: t,
    state: 'future',
    agentId: null,
    usageIndex: -1,
    finishAtMs: 0,
  }));
  const inFlight: InFlight[] = [];
  const passTimes: number[] = [];
  let stoppedTasks = 0;
  let terminatedAgents = 0;
  let refusals = 0;
  let launches = 0;
  let seq = 0;

  const stopTask = (task: Task, atMs: number, next: Task['state']): void => {
    const run = usage[task.usageIndex]!;
    run.endMs = atMs;
    const agent = agents.find((a) => a.interval.agentId === task.agentId)!;
    agent.free = addBack(agent.free, task.spec.resources);
    if (![...tasks].some((t) => t.state === 'running' && t.agentId === agent.interval.agentId && t !== task)) {
      agent.idleSinceMs = atMs;
    }
    task.state = next;
    task.agentId = null;
  };

  /** Applies launch confirmations, terminations and task ends up to `untilMs`, in time order. */
  const advance = (untilMs: number): void => {
    for (;;) {
      const events: { atMs: number; run: () => void }[] = [];
      for (const f of inFlight)
        if (f.completeAtMs <= untilMs) events.push({ atMs: f.completeAtMs, run: () => complete(f) });
      for (const a of agents) {
        if (a.terminateAtMs !== null && a.interval.endMs === null && a.terminateAtMs <= untilMs) {
          events.push({ atMs: a.terminateAtMs, run: () => terminate(a) });
        }
      }
      for (const t of tasks) {
        if (t.state === 'running' && t.finishAtMs <= untilMs)
          events.push({ atMs: t.finishAtMs, run: () => stopTask(t, t.finishAtMs, 'done') });
      }
      if (events.length === 0) return;
      events.sort((a, b) => a.atMs - b.atMs);
      events[0]!.run();
    }
  };

  const complete = (f: InFlight): void => {
    inFlight.splice(inFlight.indexOf(f), 1);
    const { offering } = f.intent;
    for (let i = 0; i < f.intent.count; i++) {
      const id = `a-${++seq}`;
      agents.push({
        interval: {
          agentId: id,
          name: id,
          location: { kind: 'cloud', provider: offering.provider, region: offering.region, zone: offering.zone },
          provider: offering.provider,
          providerId: offering.providerId,
          instanceId: `i-${seq}`,
          instanceType: offering.instanceType,
          lifecycle: offering.lifecycle,
          pricePerHourMicros: offering.pricePerHourMicros,
          capacity: offering.capacity,
          intentId: f.intent.id,
          owners: f.intent.owners,
          startMs: f.completeAtMs,
          endMs: null,
        },
        registeredAtMs: f.completeAtMs + spec.bootMs,
        terminateAtMs: null,
        terminateDecidedAtMs: null,
        free: offering.capacity,
        idleSinceMs: f.completeAtMs + spec.bootMs,
      });
    }
    for (const id of f.taskIds) {
      const task = tasks.find((t) => t.id === id)!;
      if (task.state === 'covered') task.state = 'waiting';
    }
  };

  const terminate = (a: Agent): void => {
    for (const t of tasks)
      if (t.state === 'running' && t.agentId === a.interval.agentId) stopTask(t, a.terminateAtMs!, 'waiting');
    a.interval.endMs = a.terminateAtMs;
  };

  const scheduleTermination = (a: Agent, nowMs: number): void => {
    if (a.terminateAtMs !== null) return;
    a.terminateAtMs = nowMs + delay(timing.terminationAllowanceMs);
    a.terminateDecidedAtMs = nowMs;
  };

  for (let pass = 0; ; pass++) {
    const nowMs = spec.startMs + pass * timing.passIntervalMs;
    advance(nowMs);
    passTimes.push(nowMs);
    const active = pass < spec.activePasses;
    if (!active && inFlight.length === 0 && agents.every((a) => a.interval.endMs !== null)) {
      const intervals = agents.map((a) => a.interval);
      return { agents: intervals, usage, endMs: nowMs, passTimes, stoppedTasks, terminatedAgents, refusals, launches };
    }
    const book = openBudgetBook({
      nowMs,
      budgets: spec.budgets,
      ledger: { agents: agents.map((a) => a.interval), usage },
      openLaunches: inFlight.map((f) => f.intent),
      openTerminations: agents
        .filter((a) => a.interval.endMs === null && a.terminateDecidedAtMs !== null)
        .map((a) => terminateIntent(a.interval, a.terminateDecidedAtMs!)),
      timing,
    });
    for (const command of book.preemptions()) {
      if (command.kind === 'stop-task') {
        stoppedTasks++;
        const task = tasks.find((t) => t.state === 'running' && usage[t.usageIndex]?.taskId === command.taskId);
        if (task) stopTask(task, nowMs, 'waiting');
      } else {
        terminatedAgents++;
        scheduleTermination(
          agents.find((a) => a.interval.agentId === command.agentId)!,
          nowMs,
        );
      }
    }
    if (!active) {
      for (const a of agents) if (a.interval.endMs === null) scheduleTermination(a, nowMs);
      continue;
    }
    for (const t of tasks) if (t.state === 'future' && t.spec.arriveAtPass <= pass) t.state = 'waiting';

    // Place: every fitting registered agent is asked, as the pool's best fit does; the fullest admitted one wins.
    for (const task of tasks.filter((t) => t.state === 'waiting')) {
      const admitted = agents.filter((a) => {
        if (a.interval.endMs !== null || a.terminateAtMs !== null || a.registeredAtMs > nowMs) return false;
        if (!fits(task.spec.resources, a.free)) return false;
        const ok = book.admitPlacement(
          { id: task.id, owner: task.spec.owner, resources: task.spec.resources },
          {
            id: a.interval.agentId,
            capacity: a.interval.capacity,
            location: a.interval.location,
            lifecycle: a.interval.lifecycle,
            pricePerHourMicros: a.interval.pricePerHourMicros,
          },
        );
        if (ok !== undefined) refusals++;
        return ok === undefined;
      });
      const agent = admitted.sort((x, y) => used(y) - used(x))[0];
      if (!agent) continue;
      agent.free = subtract(agent.free, task.spec.resources);
      task.state = 'running';
      task.agentId = agent.interval.agentId;
      task.finishAtMs = nowMs + task.spec.durationMs;
      task.usageIndex = usage.length;
      usage.push({
        id: usage.length + 1,
        taskId: `${task.id}#${usage.length}`,
        agentId: agent.interval.agentId,
        owner: task.spec.owner,
        share: dominantShare(task.spec.resources, agent.interval.capacity),
        startMs: nowMs,
        endMs: null,
      });
    }

    // Launch: the cheapest offering that fits the first waiting task, packed with the others that fit.
    let waiting = tasks.filter((t) => t.state === 'waiting');
    while (waiting.length > 0) {
      const head = waiting[0]!;
      const offering = spec.offerings.find((o) => fits(head.spec.resources, o.capacity));
      if (!offering) {
        waiting = waiting.slice(1);
        continue;
      }
      let free = offering.capacity;
      const packed = waiting.filter((t) => {
        if (!fits(t.spec.resources, free)) return false;
        free = subtract(free, t.spec.resources);
        return true;
      });
      const owners = launchOwnerShares(
        packed.map((t) => t.spec),
        offering,
      );
      const refusal = book.admitLaunch(offering, owners);
      if (refusal === undefined) {
        launches++;
        inFlight.push({
          intent: launchIntent(`in-${++seq}`, offering, owners, nowMs),
          completeAtMs: nowMs + delay(timing.launchAllowanceMs),
          taskIds: packed.map((t) => t.id),
        });
        for (const t of packed) t.state = 'covered';
      } else {
        refusals++;
      }
      waiting = waiting.filter((t) => !packed.includes(t));
    }

    for (const a of agents) {
      const idle = !tasks.some((t) => t.state === 'running' && t.agentId === a.interval.agentId);
      if (a.interval.endMs === null && idle && a.registeredAtMs <= nowMs && nowMs - a.idleSinceMs >= spec.idleTtlMs) {
        scheduleTermination(a, nowMs);
      }
    }
  }
}

function used(a: Agent): number {
  return dominantShare(subtract(a.interval.capacity, a.free), a.interval.capacity);
}

function addBack(free: Resources, r: Resources): Resources {
  return resources({
    cpuMillis: free.cpuMillis + r.cpuMillis,
    memoryMiB: free.memoryMiB + r.memoryMiB,
    gpus: free.gpus + r.gpus,
    netMbps: free.netMbps + r.netMbps,
  });
}

function launchIntent(id: string, offering: Offering, owners: LaunchIntent['owners'], nowMs: number): LaunchIntent {
  return {
    id,
    kind: 'launch',
    providerId: offering.providerId,
    offering,
    count: 1,
    owners,
    reason: 'simulated',
    state: 'pending',
    instanceIds: [],
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    attempts: 0,
    error: '',
  };
}

function terminateIntent(agent: AgentInterval, decidedAtMs: number): TerminateIntent {
  return {
    id: `term-${agent.agentId}`,
    kind: 'terminate',
    providerId: agent.providerId!,
    instanceIds: [agent.instanceId!],
    reason: 'simulated',
    state: 'pending',
    createdAtMs: decidedAtMs,
    updatedAtMs: decidedAtMs,
    attempts: 0,
    error: '',
  };
}
