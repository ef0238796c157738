import { microsToUsd, type Micros } from '../core/money.ts';
import type { Policy } from '../core/policy.ts';
import { amortizedPrivateRate, billedInWindow, effectivePricePerHour } from '../cost-model/ledger.ts';
import type { PrivateRates } from '../cost-model/private-rates.ts';
import { cloudCostParts, waitBreakdown, type CloudCostParts, type WaitBreakdown } from './breakdown.ts';
import type { SimulationRun } from './simulation.ts';

/** Cloud spend of one provider and lifecycle. */
export interface CloudLine {
  readonly providerId: string;
  readonly lifecycle: 'on-demand' | 'spot';
  readonly usd: number;
  readonly instanceHours: number;
  readonly instances: number;
}

/** The figures of one simulated run, as the report shows them. */
export interface RunFigures {
  readonly privateUsd: number;
  readonly cloudUsd: number;
  readonly totalUsd: number;
  readonly cloud: readonly CloudLine[];
  readonly cloudInstanceHours: number;
  readonly waitS: { readonly p50: number; readonly p95: number; readonly p99: number; readonly mean: number };
  /** Tasks that waited longer than the policy's pendingGraceMs before they started. */
  readonly waitedPastGrace: number;
  /** The waits' tail, and the late tasks by the reason they carried. */
  readonly waits: WaitBreakdown;
  /** The cloud bill by what each paid second was for. */
  readonly cloudParts: CloudCostParts;
  readonly tasks: { readonly submitted: number; readonly finished: number; readonly neverStarted: number };
  readonly budgetAlerts: readonly { readonly budget: string; readonly percent: number; readonly atMs: number }[];
  readonly spotInterruptions: number;
  readonly passes: number;
  /** Simulated span, days. */
  readonly days: number;
}

/**
 * Reads a finished run's figures from its own store and waits: money from the ledger (the same intervals, billing
 * rules and private rates as `spillway report`), over the whole run.
 */
export function runFigures(run: SimulationRun, policy: Policy, rates: PrivateRates): RunFigures {
  const window = { fromMs: run.startMs, toMs: run.endMs + 1 };
  const ledger = run.store.ledger.overlapping(window.fromMs, window.toMs);
  const rate = amortizedPrivateRate(rates);
  let privateMicros: Micros = 0;
  const lines = new Map<
    string,
    { providerId: string; lifecycle: 'on-demand' | 'spot'; micros: number; ms: number; n: number }
  >();
  for (const agent of ledger.agents) {
    const micros = billedInWindow(agent, effectivePricePerHour(agent, rate), window, run.endMs);
    if (agent.lifecycle === 'private') {
      privateMicros += micros;
      continue;
    }
    const key = `${agent.providerId}/${agent.lifecycle}`;
    let line = lines.get(key);
    if (!line)
      lines.set(
        key,
        (line = { providerId: agent.providerId ?? '', lifecycle: agent.lifecycle, micros: 0, ms: 0, n: 0 }),
      );
    line.micros += micros;
    line.ms += Math.max(0, Math.min(agent.endMs ?? run.endMs, run.endMs) - agent.startMs);
    line.n++;
  }
  const cloud = [...lines.values()]
    .sort((a, b) => b.micros - a.micros)
    .map((l) => ({
      providerId: l.providerId,
      lifecycle: l.lifecycle,
      usd: microsToUsd(l.micros),
      instanceHours: l.ms / 3_600_000,
      instances: l.n,
    }));
  const cloudMicros = [...lines.values()].reduce((s, l) => s + l.micros, 0);
  const cloudParts = cloudCostParts({
    agents: ledger.agents,
    usage: ledger.usage,
    billedUsd: (agent) => microsToUsd(billedInWindow(agent, effectivePricePerHour(agent, rate), window, run.endMs)),
    registeredAtMs: run.registeredAtMs,
    resourcesOf: (taskId) => run.store.tasks.get(taskId)?.resources,
    endMs: run.endMs,
  });
  const waits = Float64Array.from(run.waitsMs).sort();
  const at = (q: number): number =>
    waits.length === 0 ? 0 : waits[Math.min(waits.length - 1, Math.ceil(q * waits.length) - 1)]! / 1000;
  let past = 0;
  let sum = 0;
  for (const w of waits) {
    sum += w;
    if (w > policy.pendingGraceMs) past++;
  }
  return {
    privateUsd: microsToUsd(privateMicros),
    cloudUsd: microsToUsd(cloudMicros),
    totalUsd: microsToUsd(privateMicros + cloudMicros),
    cloud,
    cloudInstanceHours: cloud.reduce((s, l) => s + l.instanceHours, 0),
    waitS: { p50: at(0.5), p95: at(0.95), p99: at(0.99), mean: waits.length ? sum / waits.length / 1000 : 0 },
    waitedPastGrace: past,
    waits: waitBreakdown(run.waitsMs, run.waitReasons, policy.pendingGraceMs),
    cloudParts,
    tasks: { submitted: run.submitted, finished: run.finished, neverStarted: run.neverStarted },
    budgetAlerts: run.store.budgets
      .alerts()
      .map((a) => ({ budget: a.budgetName, percent: a.percent, atMs: a.atMs }))
      .reverse(),
    spotInterruptions: run.spotInterruptions,
    passes: run.passes,
    days: (run.endMs - run.startMs) / 86_400_000,
  };
}
