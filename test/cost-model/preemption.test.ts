import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Owner } from '../../src/core/owner.ts';
import { AgentExposure, type TaskOnAgent } from '../../src/cost-model/budget-exposure.ts';
import type { BudgetScope } from '../../src/cost-model/budget.ts';
import { choosePreemptions, type PreemptCommand } from '../../src/cost-model/preemption.ts';
import { budget, cloudInterval, HOUR, owner, T0 } from './ledger-builders.ts';

// Every agent costs 100 micro-USD a second ($0.36/h) and has run an hour, so the 60 s minimum is behind it. With a
// 60 s pass and a 60 s termination allowance, keeping an agent costs 120 s = 12,000 from now, stopping it 60 s = 6,000.
const NOW = T0 + HOUR;
const TIMING = { passIntervalMs: 60_000, terminationAllowanceMs: 60_000, launchAllowanceMs: 60_000 };
const ML = owner('ml');
const WEB = owner('web');
const WHY = 'budget ml-cap reached';

interface AgentSpec {
  readonly id: string;
  readonly launchedBy: Owner | readonly Owner[];
  readonly tasks?: readonly (readonly [string, Owner, number])[];
  readonly instanceType?: string;
  readonly closed?: boolean;
  readonly terminatingSinceMs?: number;
  readonly pricePerHourMicros?: number;
}

function exposure(spec: AgentSpec): AgentExposure {
  const agent = cloudInterval({
    agentId: spec.id,
    name: `name-${spec.id}`,
    instanceType: spec.instanceType ?? 'm7i.large',
    providerId: 'aws-ec2:us-east-1',
    instanceId: `i-${spec.id}`,
    owners: (Array.isArray(spec.launchedBy) ? spec.launchedBy : [spec.launchedBy]).map((o: Owner) => ({
      owner: o,
      share: 1,
    })),
    startMs: T0,
    endMs: spec.closed ? NOW - 1_000 : null,
    pricePerHourMicros: spec.pricePerHourMicros ?? 360_000,
  });
  const tasks: TaskOnAgent[] = (spec.tasks ?? []).map(([taskId, who, share]) => ({ taskId, owner: who, share }));
  return new AgentExposure(agent, { tasks, ranFor: tasks.map((t) => t.owner) }, NOW, TIMING, spec.terminatingSinceMs);
}

function stop(taskId: string, agentId: string, saving: string): PreemptCommand {
  return {
    kind: 'stop-task',
    taskId,
    agentId,
    budgetId: 'bud-ml',
    reason: `${WHY}: returned to pending from agent name-${agentId}, saving up to ${saving}`,
  };
}

function terminate(agentId: string, saving: string, what = 'm7i.large'): PreemptCommand {
  return {
    kind: 'terminate-agent',
    agentId,
    providerId: 'aws-ec2:us-east-1',
    instanceId: `i-${agentId}`,
    budgetId: 'bud-ml',
    reason: `${WHY}: terminating agent name-${agentId} (${what}, on-demand), saving up to ${saving}`,
  };
}

/**
 * The fleet, with what the ml team saves by each stop (hand-computed from the costs above):
 * - a-half: web's agent, ml task at half of it: ml pays 0.5 x 12,000 = 6,000 kept; 0.5 x 6,000 = 3,000 if its task
 *   stops: saves 3,000.
 * - b-full: web's agent, ml task using all of it: 12,000 kept, 6,000 stopped: saves 6,000.
 * - c-own, d-own: agents ml launched (ml pays all of them, task or not): terminating saves 12,000 - 6,000 = 6,000.
 * - e-web: web's agent with only web's task: nothing of ml's.
 * - f-closed: closed, g-terminating: its termination already decided: nothing left to save on either.
 */
function fleet(): AgentExposure[] {
  // Listed against id order, so a tie must be broken by the agent id, not by the order given.
  return [
    exposure({ id: 'g-terminating', launchedBy: ML, tasks: [['t7', ML, 1]], terminatingSinceMs: NOW }),
    exposure({ id: 'f-closed', launchedBy: ML, tasks: [['t6', ML, 1]], closed: true }),
    exposure({ id: 'e-web', launchedBy: WEB, tasks: [['t5', WEB, 1]] }),
    exposure({ id: 'd-own', launchedBy: ML, instanceType: '' }),
    exposure({ id: 'c-own', launchedBy: ML, tasks: [['t4', ML, 0.5]] }),
    exposure({
      id: 'a-half',
      launchedBy: WEB,
      tasks: [
        ['t1', ML, 0.5],
        ['t2', WEB, 0.25],
      ],
    }),
    exposure({ id: 'b-full', launchedBy: WEB, tasks: [['t3', ML, 1]] }),
  ];
}

const mlBudget = budget({ id: 'bud-ml', scope: { kind: 'team', team: 'ml' }, onCap: 'preempt' });

describe('choosing preemptions', () => {
  it('stops nothing when nothing is over', () => {
    assert.deepEqual(choosePreemptions(mlBudget, 0, fleet(), WHY), []);
    assert.deepEqual(choosePreemptions(mlBudget, -5_000, fleet(), WHY), []);
  });

  it('first stops the team’s task on another team’s agent that saves the most, and no more than needed', () => {
    const exposures = fleet();
    assert.deepEqual(choosePreemptions(mlBudget, 5_000, exposures, WHY), [stop('t3', 'b-full', '$0.0060')]);
    // Only the chosen stop is marked; weighing the others left no trace.
    assert.deepEqual(
      exposures.filter((e) => e.stoppedTaskIds.size > 0).map((e) => [e.agent.agentId, [...e.stoppedTaskIds]]),
      [['b-full', ['t3']]],
    );
    assert.deepEqual(choosePreemptions(mlBudget, 6_000, fleet(), WHY), [stop('t3', 'b-full', '$0.0060')]);
  });

  it('stops the next task when one is not enough, before terminating any agent', () => {
    assert.deepEqual(choosePreemptions(mlBudget, 6_001, fleet(), WHY), [
      stop('t3', 'b-full', '$0.0060'),
      stop('t1', 'a-half', '$0.0030'),
    ]);
  });

  it('then terminates the agents the team pays for, ties by agent id, and stops once the excess is covered', () => {
    assert.deepEqual(choosePreemptions(mlBudget, 15_000, fleet(), WHY), [
      stop('t3', 'b-full', '$0.0060'),
      stop('t1', 'a-half', '$0.0030'),
      terminate('c-own', '$0.0060'),
    ]);
  });

  it('stops everything the team pays for when even that is not enough, and nothing of others’ or already ending', () => {
    const exposures = fleet();
    const commands = choosePreemptions(mlBudget, 1_000_000, exposures, WHY);
    assert.deepEqual(commands, [
      stop('t3', 'b-full', '$0.0060'),
      stop('t1', 'a-half', '$0.0030'),
      terminate('c-own', '$0.0060'),
      terminate('d-own', '$0.0060', 'instance'),
    ]);
    // The choices are marked on the exposures, so the caller's later checks see them.
    const byId = new Map(exposures.map((e) => [e.agent.agentId, e]));
    assert.deepEqual([...byId.get('b-full')!.stoppedTaskIds], ['t3']);
    assert.deepEqual([...byId.get('a-half')!.stoppedTaskIds], ['t1']);
    assert.deepEqual(
      exposures.filter((e) => e.terminated).map((e) => e.agent.agentId),
      ['d-own', 'c-own'],
    );
  });

  it('does not stop a task it already stopped, nor terminate an agent already terminated this pass', () => {
    const exposures = fleet();
    const byId = new Map(exposures.map((e) => [e.agent.agentId, e]));
    byId.get('b-full')!.stoppedTaskIds.add('t3');
    byId.get('c-own')!.terminated = true;
    assert.deepEqual(choosePreemptions(mlBudget, 1_000_000, exposures, WHY), [
      stop('t1', 'a-half', '$0.0030'),
      terminate('d-own', '$0.0060', 'instance'),
    ]);
  });

  it('terminates whole agents only for a global budget, largest saving first', () => {
    const global = budget({ id: 'bud-ml', scope: { kind: 'global' } satisfies BudgetScope });
    // Globally every open agent saves 6,000 by terminating; 12,000 needs two, the first two by id.
    assert.deepEqual(choosePreemptions(global, 12_000, fleet(), WHY), [
      terminate('a-half', '$0.0060'),
      terminate('b-full', '$0.0060'),
    ]);
  });

  it('terminates the team’s agent that saves the most first', () => {
    // z-big costs twice as much: terminating it saves 12,000. After the two task stops (9,000), 6,000 is left: z-big
    // alone covers it, though its id sorts last.
    const exposures = [...fleet(), exposure({ id: 'z-big', launchedBy: ML, pricePerHourMicros: 720_000 })];
    assert.deepEqual(choosePreemptions(mlBudget, 15_000, exposures, WHY), [
      stop('t3', 'b-full', '$0.0060'),
      stop('t1', 'a-half', '$0.0030'),
      terminate('z-big', '$0.0120'),
    ]);
  });

  it('leaves an agent the team launched with others to the terminate step, and skips a task that saves nothing', () => {
    // h-shared: launched by ml and web half each, with ml's task at half of it. ml pays 0.5 + 0.5 x 0.5 = 0.75 of it:
    // 9,000 kept, 4,500 if terminated: saves 4,500. Stopping its task would save 1,500, but ml pays for part of the
    // agent, so it is terminated, not emptied. i-zero: web's agent with an ml task of share 0: stopping it saves 0.
    const exposures = [
      ...fleet(),
      exposure({ id: 'h-shared', launchedBy: [ML, WEB], tasks: [['t8', ML, 0.5]] }),
      exposure({ id: 'i-zero', launchedBy: WEB, tasks: [['t9', ML, 0]] }),
    ];
    assert.deepEqual(choosePreemptions(mlBudget, 1_000_000, exposures, WHY), [
      stop('t3', 'b-full', '$0.0060'),
      stop('t1', 'a-half', '$0.0030'),
      terminate('c-own', '$0.0060'),
      terminate('d-own', '$0.0060', 'instance'),
      terminate('h-shared', '$0.0045'),
    ]);
  });
});
