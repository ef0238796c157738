import type { Micros } from '../core/money.ts';
import type { Owner } from '../core/owner.ts';
import { attributeLedger, type Charge } from './attribution.ts';
import { ledgerTotalMicros, type LedgerSlice, type PrivateRate, type TimeWindow } from './ledger.ts';

/** How a chargeback report groups owners. */
export const ChargebackBy = { team: 'team', project: 'project', job: 'job' } as const;
export type ChargebackBy = (typeof ChargebackBy)[keyof typeof ChargebackBy];

/** Micro-USD by category: private and cloud side by side; cloud split into on-demand, spot and idle. */
export interface CostBreakdown {
  readonly privateMicros: Micros;
  readonly onDemandMicros: Micros;
  readonly spotMicros: Micros;
  readonly idleMicros: Micros;
  /** onDemand + spot + idle. */
  readonly cloudMicros: Micros;
  /** private + cloud. */
  readonly totalMicros: Micros;
}

/** One group of a report: a team, a team's project, or a team's project's job. */
export interface ChargebackRow extends CostBreakdown {
  readonly team: string;
  /** Set when grouping by project or job. */
  readonly project: string | null;
  /** Set when grouping by job. */
  readonly job: string | null;
}

export interface ChargebackReport {
  readonly by: ChargebackBy;
  readonly fromMs: number;
  readonly toMs: number;
  /** Costliest first; groups that cost nothing are left out. */
  readonly rows: readonly ChargebackRow[];
  /** The sum of the rows, which equals the ledger's billed total over the window to the micro-dollar. */
  readonly totals: CostBreakdown;
}

export interface ChargebackInput {
  /** The intervals overlapping the window (`store.ledger.overlapping(fromMs, toMs)`). */
  readonly ledger: LedgerSlice;
  readonly window: TimeWindow;
  /** Open intervals are counted up to now. */
  readonly nowMs: number;
  readonly by: ChargebackBy;
  /** The amortized rate of private agents. */
  readonly privateRate: PrivateRate;
}

/**
 * Cost by team, project or job over any window (pure), by DESIGN's attribution rule: private capacity at its
 * amortized rate, cloud capacity at its price, idle cloud time to the owners whose demand launched it, private
 * capacity nobody used to `(unattributed)`. Each agent interval is rounded once (largest remainder) at the job level,
 * then summed up, so every report's total equals `ledgerTotalMicros` for the same window exactly, whatever `by`.
 */
export function chargeback(input: ChargebackInput): ChargebackReport {
  const groups = new Map<string, { owner: GroupKey; amounts: Record<Charge['category'], number> }>();
  for (const charge of attributeLedger(input.ledger, input.window, input.nowMs, input.privateRate)) {
    const owner = groupOf(charge.owner, input.by);
    const key = JSON.stringify([owner.team, owner.project, owner.job]);
    let group = groups.get(key);
    if (group === undefined) {
      groups.set(key, (group = { owner, amounts: { private: 0, onDemand: 0, spot: 0, idle: 0 } }));
    }
    group.amounts[charge.category] += charge.micros;
  }
  const rows = [...groups.values()]
    .map(({ owner, amounts }): ChargebackRow => ({ ...owner, ...breakdown(amounts) }))
    .filter((row) => row.totalMicros !== 0)
    .sort((a, b) => b.totalMicros - a.totalMicros || compareGroups(a, b));
  const totals = breakdown({
    private: sum(rows, 'privateMicros'),
    onDemand: sum(rows, 'onDemandMicros'),
    spot: sum(rows, 'spotMicros'),
    idle: sum(rows, 'idleMicros'),
  });
  return { by: input.by, fromMs: input.window.fromMs, toMs: input.window.toMs, rows, totals };
}

/** The ledger's total a report over the same input must match (re-exported for callers and tests). */
export function chargebackLedgerTotal(input: Omit<ChargebackInput, 'by'>): Micros {
  return ledgerTotalMicros(input.ledger, input.window, input.nowMs, input.privateRate);
}

interface GroupKey {
  readonly team: string;
  readonly project: string | null;
  readonly job: string | null;
}

function groupOf(owner: Owner, by: ChargebackBy): GroupKey {
  return {
    team: owner.team,
    project: by === 'team' ? null : owner.project,
    job: by === 'job' ? owner.job : null,
  };
}

function breakdown(amounts: Record<Charge['category'], number>): CostBreakdown {
  const cloudMicros = amounts.onDemand + amounts.spot + amounts.idle;
  return {
    privateMicros: amounts.private,
    onDemandMicros: amounts.onDemand,
    spotMicros: amounts.spot,
    idleMicros: amounts.idle,
    cloudMicros,
    totalMicros: amounts.private + cloudMicros,
  };
}

function sum(rows: readonly ChargebackRow[], field: keyof CostBreakdown): Micros {
  return rows.reduce((total, row) => total + row[field], 0);
}

function compareGroups(a: GroupKey, b: GroupKey): number {
  const ka = [a.team, a.project ?? '', a.job ?? ''];
  const kb = [b.team, b.project ?? '', b.job ?? ''];
  for (let i = 0; i < ka.length; i++) {
    if (ka[i]! !== kb[i]!) return ka[i]! < kb[i]! ? -1 : 1;
  }
  return 0;
}
