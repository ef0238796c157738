import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  budgetForecasts,
  budgetForecastSteps,
  FORECAST_SERIES_POINTS,
  ledgerAsOf,
} from '../../src/cost-model/budget-forecast.ts';
import type { LedgerSlice } from '../../src/cost-model/ledger.ts';
import { budget, cloudInterval, HOUR, owner, SECOND, T0, usage } from './ledger-builders.ts';

// Budget forecasts worked out by hand. Agents bill 100 micro-USD a second (EC2: per second, 60 s minimum); T0 is
// midnight UTC, so a day's and an hour's period start there.
//
// x runs from T0 on; y ran from T0 for 10 minutes (600 s: 60,000). At now = T0 + 4,700 s:
// - spent in the day: x 470,000 + y 60,000 = 530,000.
// - the last hour began at T0 + 1,100 s, when spend stood at x 110,000 + y 60,000 = 170,000: the rate is 360,000 an
//   hour (x's alone; y had stopped), not the day's average, and the day's 81,700 s left add 8,170,000.
// - 4,700 s is 47 x 100 s, so the day's 48 points fall every 100 s: x has billed 10,000 per point, y 10,000 per point
//   until it stopped at the sixth (as it stood then: its later minutes are not counted early).
const NOW = T0 + 4_700 * SECOND;

function fleet(): LedgerSlice {
  return {
    agents: [
      cloudInterval({ agentId: 'x', startMs: T0, endMs: null }),
      cloudInterval({ agentId: 'y', startMs: T0, endMs: T0 + 600 * SECOND }),
    ],
    usage: [],
  };
}

describe('budget forecasts', () => {
  it('carries the last hour’s spend rate on to the period’s end', () => {
    const day = budget({ id: 'bud-day', period: 'day' });
    const [forecast] = budgetForecasts([day], fleet(), NOW);
    assert.deepEqual(
      [
        forecast?.budget.id,
        forecast?.window,
        forecast?.spentMicros,
        forecast?.ratePerHourMicros,
        forecast?.forecastMicros,
      ],
      ['bud-day', { fromMs: T0, toMs: T0 + 24 * HOUR }, 530_000, 360_000, 530_000 + 8_170_000],
    );
  });

  it('draws the spend so far in 48 evenly spaced points, each as the ledger stood then', () => {
    const [forecast] = budgetForecasts([budget({ period: 'day' })], fleet(), NOW);
    assert.equal(FORECAST_SERIES_POINTS, 48);
    const expected = Array.from({ length: 48 }, (_, i) => ({
      atMs: T0 + i * 100 * SECOND,
      spentMicros: i === 0 ? 0 : 10_000 * i + 10_000 * Math.min(i, 6),
    }));
    assert.deepEqual(forecast?.series, expected);
  });

  it('takes a period younger than an hour whole for the rate, and keeps budgets of different periods apart', () => {
    // The hour began at T0 + 3,600 s: 1,100 s ago. x billed 110,000 since (y had stopped): 360,000 an hour, and
    // the 2,500 s left add 250,000. The day budget, evaluated alongside, is unchanged.
    const hour = budget({ id: 'bud-hour', period: 'hour' });
    const day = budget({ id: 'bud-day', period: 'day' });
    const forecasts = budgetForecasts([hour, day], fleet(), NOW);
    assert.deepEqual(
      forecasts.map((f) => [f.budget.id, f.spentMicros, f.ratePerHourMicros, f.forecastMicros]),
      [
        ['bud-hour', 110_000, 360_000, 360_000],
        ['bud-day', 530_000, 360_000, 8_700_000],
      ],
    );
    const series = forecasts[0]!.series;
    assert.equal(series.length, 48);
    assert.deepEqual(series[0], { atMs: T0 + HOUR, spentMicros: 0 });
    assert.deepEqual(series.at(-1), { atMs: NOW, spentMicros: 110_000 });
    // Point 47 of 47 is now; point 30 is at 1,100 s x 30 / 47 = 702.127... s past the hour: 703 s billed (per second,
    // rounded up) at 100 a second.
    assert.deepEqual(series[30], { atMs: T0 + HOUR + 702_128, spentMicros: 70_300 });
  });

  it('ends the series at the spend it reports, even from a ledger read a moment after now', () => {
    // The ledger was read just after now: x closed since, at now + 500 ms. Its bill through its end covers 4,701 s
    // (per second, rounded up) at 100 a second; the last point is that same figure, not a second figure as of now.
    const ledger: LedgerSlice = {
      agents: [cloudInterval({ agentId: 'x', startMs: T0, endMs: NOW + 500 })],
      usage: [],
    };
    const [forecast] = budgetForecasts([budget({ period: 'day' })], ledger, NOW);
    assert.equal(forecast?.spentMicros, 470_100);
    assert.deepEqual(forecast?.series.at(-1), { atMs: NOW, spentMicros: 470_100 });
  });

  it('forecasts a burn budget as its trailing hour, with no series', () => {
    // The trailing hour is [T0 + 1,100 s, now): x's 3,600 s; y had stopped before it.
    const burn = budget({ id: 'bud-burn', period: 'burn' });
    assert.deepEqual(budgetForecasts([burn], fleet(), NOW), [
      {
        budget: burn,
        window: { fromMs: NOW - HOUR, toMs: NOW },
        spentMicros: 360_000,
        ratePerHourMicros: 360_000,
        forecastMicros: 360_000,
        series: [],
      },
    ]);
  });

  it('has no rate at the very start of a period, and one point per distinct instant', () => {
    const hour = budget({ period: 'hour' });
    const [atStart] = budgetForecasts([hour], fleet(), T0 + HOUR);
    assert.deepEqual(
      [atStart?.spentMicros, atStart?.ratePerHourMicros, atStart?.forecastMicros, atStart?.series],
      [0, 0, 0, [{ atMs: T0 + HOUR, spentMicros: 0 }]],
    );
    // 10 ms into the hour the 48 points fall on 11 distinct milliseconds. x's running bill then covers 3,601 s (per
    // second, rounded up): 100 more than at the hour's start.
    const [young] = budgetForecasts([hour], fleet(), T0 + HOUR + 10);
    assert.deepEqual(
      young?.series,
      Array.from({ length: 11 }, (_, k) => ({ atMs: T0 + HOUR + k, spentMicros: k === 0 ? 0 : 100 })),
    );
  });

  it('yields after the rate and after each point it reads, then returns what budgetForecasts returns', () => {
    const budgets = [budget({ id: 'bud-day', period: 'day' }), budget({ id: 'bud-burn', period: 'burn' })];
    const steps = budgetForecastSteps(budgets, fleet(), NOW);
    let yields = 0;
    let step = steps.next();
    for (; step.done !== true; step = steps.next()) yields++;
    assert.equal(yields, 1 + 48, 'the day budget: its rate, then its 48 points; the burn budget: none');
    assert.deepEqual(step.value, budgetForecasts(budgets, fleet(), NOW));
  });

  it('counts a team’s spend by its tasks as they ran at each point', () => {
    // w: web's agent from T0, with an ml task using all of it from T0 + 200 s to T0 + 1,000 s: 80,000 for ml, all of
    // it before the last hour (which began at T0 + 1,100 s), so no rate.
    const ml = owner('ml');
    const w = cloudInterval({ agentId: 'w', startMs: T0, endMs: null, owners: [{ owner: owner('web'), share: 1 }] });
    const ledger: LedgerSlice = { agents: [w], usage: [usage(w, ml, 1, T0 + 200 * SECOND, T0 + 1_000 * SECOND)] };
    const mlDay = budget({ period: 'day', scope: { kind: 'team', team: 'ml' } });
    const [forecast] = budgetForecasts([mlDay], ledger, NOW);
    assert.deepEqual(
      [forecast?.spentMicros, forecast?.ratePerHourMicros, forecast?.forecastMicros],
      [80_000, 0, 80_000],
    );
    // Points every 100 s: 10,000 a point from the 2nd until the 10th, then 80,000.
    assert.deepEqual(
      forecast?.series.map((p) => p.spentMicros),
      Array.from({ length: 48 }, (_, i) => 10_000 * Math.min(8, Math.max(0, i - 2))),
    );
  });
});

describe('the ledger as it stood at an instant', () => {
  it('leaves out what had not started and reopens what ended later', () => {
    const t = T0 + 10 * SECOND;
    const ml = owner('ml');
    const open = cloudInterval({ agentId: 'open', startMs: T0, endMs: null });
    const endedThen = cloudInterval({ agentId: 'ended-then', startMs: T0, endMs: t });
    const endedLater = cloudInterval({ agentId: 'ended-later', startMs: T0 + 5 * SECOND, endMs: T0 + 20 * SECOND });
    const startsThen = cloudInterval({ agentId: 'starts-then', startMs: t, endMs: null });
    const runs = [
      usage(open, ml, 0.5, T0, null),
      usage(open, ml, 0.5, T0, t),
      usage(endedLater, ml, 1, T0 + 5 * SECOND, T0 + 20 * SECOND),
      usage(open, ml, 0.25, t, null),
    ];
    assert.deepEqual(ledgerAsOf({ agents: [open, endedThen, endedLater, startsThen], usage: runs }, t), {
      agents: [open, endedThen, { ...endedLater, endMs: null }],
      usage: [runs[0], runs[1], { ...runs[2]!, endMs: null }],
    });
  });
});
