import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Agent } from '../../src/core/agent.ts';
import { resources } from '../../src/core/resources.ts';
import { AgentExposure } from '../../src/cost-model/budget-exposure.ts';
import { openBudgetBook } from '../../src/cost-model/budgets.ts';
import type { AgentInterval } from '../../src/cost-model/ledger.ts';
import { choosePreemptions } from '../../src/cost-model/preemption.ts';
import { agent as liveAgent } from '../fakes/builders.ts';
import { budget, cloudInterval, MINUTE, owner, SECOND, T0 } from './ledger-builders.ts';

// What one budget's preemptions mark on the exposures (a task stopped, an agent terminated) must hold for the rest of
// the pass: the later budgets of the same pass and the placements after them read those marks. Agents bill 100
// micro-USD a second; every cap is 0, so every preempt budget whose scope has spent anything is over.
const A = owner('team-a', 'vision', 'train');
const TEAM_A = { kind: 'team', team: 'team-a' } as const;
const TIMING = { passIntervalMs: 10 * SECOND, terminationAllowanceMs: 20 * SECOND, launchAllowanceMs: 30 * SECOND };
const NOW = T0 + 30 * MINUTE;

/** An agent team A launched five minutes ago, still running. */
function aAgent(): AgentInterval {
  return cloudInterval({ startMs: NOW - 5 * MINUTE, endMs: null, owners: [{ owner: A, share: 1 }] });
}

describe('preemption marks', () => {
  it('leaves an agent a preemption already terminated this pass marked, whichever budget weighs it next', () => {
    const exposure = new AgentExposure(aAgent(), { tasks: [], ranFor: [] }, NOW, TIMING);
    exposure.terminated = true;
    const global = budget({ id: 'bud-g', scope: { kind: 'global' } });
    assert.deepEqual(choosePreemptions(global, 1_000_000, [exposure], 'over'), [], 'nothing left to stop');
    assert.equal(exposure.terminated, true);
    const teamA = budget({ id: 'bud-a', scope: TEAM_A });
    assert.deepEqual(choosePreemptions(teamA, 1_000_000, [exposure], 'over'), []);
    assert.equal(exposure.terminated, true);
  });

  it('terminates an agent once in a pass however many budgets it passes, and refuses placements on it after', () => {
    const x = aAgent();
    // In id order: team A's budget terminates x; the global one finds nothing more to stop; team A's second budget
    // finds x already terminated.
    const budgets = [
      budget({ id: 'bud-a', name: 'a-first', scope: TEAM_A, capMicros: 0 }),
      budget({ id: 'bud-g', name: 'global', scope: { kind: 'global' }, capMicros: 0 }),
      budget({ id: 'bud-m', name: 'a-second', scope: TEAM_A, capMicros: 0 }),
    ];
    const book = openBudgetBook({
      nowMs: NOW,
      budgets,
      ledger: { agents: [x], usage: [] },
      openLaunches: [],
      timing: TIMING,
    });
    assert.deepEqual(
      book.preemptions().map((c) => [c.kind, c.agentId, c.budgetId]),
      [['terminate-agent', x.agentId, 'bud-a']],
    );
    const onX: Agent = liveAgent({
      id: x.agentId,
      location: x.location,
      lifecycle: x.lifecycle,
      capacity: x.capacity,
      pricePerHourMicros: x.pricePerHourMicros,
    });
    const task = { id: 't-1', owner: A, resources: resources({ cpuMillis: 1000 }) };
    assert.equal(book.admitPlacement(task, onX), `agent ${x.agentId} is being stopped`);
  });
});
