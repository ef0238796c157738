import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { budgetSpend } from '../../src/cost-model/budget-spend.ts';
import { budget, cloudInterval, HOUR, owner, privateInterval, T0, usage } from './ledger-builders.ts';

describe('budget spend over several periods', () => {
  // A cloud agent at $0.36/h (100 micro-USD a second) launched for team ml at 00:00, still running at 02:30, no task
  // on it: its whole running time is ml's idle spend. Expected amounts: seconds in the window x 100.
  const now = T0 + 2.5 * HOUR;
  const agent = cloudInterval({ startMs: T0, endMs: null, owners: [{ owner: owner('ml'), share: 1 }] });

  it('counts each budget over its own window, even when budgets of different periods are read together', () => {
    const day = budget({ period: 'day', scope: { kind: 'team', team: 'ml' }, capMicros: 10_000_000 });
    const hour = budget({ period: 'hour', scope: { kind: 'team', team: 'ml' }, capMicros: 10_000_000 });
    const spends = budgetSpend([day, hour, day], { agents: [agent], usage: [] }, now);
    assert.deepEqual(
      spends.map((s) => [s.window.fromMs - T0, s.window.toMs - T0, s.spentMicros]),
      [
        [0, 24 * HOUR, 9_000 * 100],
        [2 * HOUR, 3 * HOUR, 1_800 * 100],
        [0, 24 * HOUR, 9_000 * 100],
      ],
    );
  });

  it('counts no private capacity, and only the scope’s owners', () => {
    const rack = privateInterval({ startMs: T0, endMs: null, pricePerHourMicros: 3_600_000 });
    const ledger = {
      agents: [agent, rack],
      usage: [usage(rack, owner('ml'), 1, T0, null)],
    };
    const ml = budget({ period: 'day', scope: { kind: 'team', team: 'ml' } });
    const other = budget({ period: 'day', scope: { kind: 'team', team: 'web' } });
    const all = budget({ period: 'day', scope: { kind: 'global' } });
    assert.deepEqual(
      budgetSpend([ml, other, all], ledger, now).map((s) => s.spentMicros),
      [900_000, 0, 900_000],
    );
  });
});
