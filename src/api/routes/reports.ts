import { ValidationError } from '../../core/errors.ts';
import { microsToUsd } from '../../core/money.ts';
import { periodWindow } from '../../cost-model/budget.ts';
import { chargeback, type CostBreakdown } from '../../cost-model/chargeback.ts';
import { measuredUse, useGroupKey } from '../../cost-model/measured-use.ts';
import type { PrivateRate } from '../../cost-model/ledger.ts';
import { scopeAllows } from '../../core/team-scope.ts';
import { defineRoute, scopeOf, type Route, type RouteDeps } from '../route.ts';
import { chargebackQuerySchema, MAX_REPORT_DAYS } from '../schemas.ts';
import type { ChargebackResponse, CostBreakdownUsd } from '../types.ts';

export interface ReportRouteOptions {
  /** The amortized rate of private agents (from config's `privateRates`). */
  readonly privateRate: PrivateRate;
}

/** GET /v1/reports/chargeback. */
export function reportRoutes({ store }: RouteDeps, opts: ReportRouteOptions): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/reports/chargeback',
      summary:
        'Cost by team, project or job over [from, to) (default: this UTC month until now): private and cloud side by ' +
        'side, on-demand, spot and idle separated. The totals equal the ledger’s billed total to the micro-dollar.',
      access: { kind: 'roles', roles: ['finance', 'admin'] },
      query: chargebackQuerySchema,
      response: { status: 200, description: 'The report, costliest first.', schema: 'ChargebackReport' },
      handle: async ({ query, caller, nowMs }) => {
        const fromMs = query.from ?? periodWindow('month', nowMs).fromMs;
        const toMs = query.to ?? nowMs;
        if (toMs <= fromMs) throw new ValidationError('query.to', 'must be after from');
        if (toMs - fromMs > MAX_REPORT_DAYS * 86_400_000) {
          throw new ValidationError('query.to', `must be at most ${MAX_REPORT_DAYS} days after from`);
        }
        const report = chargeback({
          ledger: await store.ledger.overlapping(fromMs, toMs),
          window: { fromMs, toMs },
          nowMs,
          by: query.by,
          privateRate: opts.privateRate,
        });
        // A scoped finance token sees its teams' rows only, and totals that are theirs: the sum of those rows.
        const scope = scopeOf(caller);
        const rows = scope === undefined ? report.rows : report.rows.filter((row) => scopeAllows(scope, row));
        const totals = scope === undefined ? report.totals : sumBreakdowns(rows);
        // Measured use likewise: its total counts the scope's runs only, or it would give away the other teams'.
        const runs = (await store.ledger.measuredRuns(fromMs, toMs)).filter((run) => scopeAllows(scope, run.owner));
        const use = measuredUse(runs, { fromMs, toMs }, nowMs, query.by);
        const body: ChargebackResponse = {
          by: report.by,
          fromMs,
          toMs,
          rows: rows.map((row) => {
            const figures = use.groups.get(useGroupKey(row, query.by));
            return {
              team: row.team,
              project: row.project,
              job: row.job,
              ...inUsd(row),
              ...(figures === undefined ? {} : { use: figures }),
            };
          }),
          totals: inUsd(totals),
          use: use.total,
        };
        return { body };
      },
    }),
  ];
}

function sumBreakdowns(rows: readonly CostBreakdown[]): CostBreakdown {
  const sum = (pick: (row: CostBreakdown) => number): number => rows.reduce((total, row) => total + pick(row), 0);
  return {
    privateMicros: sum((r) => r.privateMicros),
    onDemandMicros: sum((r) => r.onDemandMicros),
    spotMicros: sum((r) => r.spotMicros),
    idleMicros: sum((r) => r.idleMicros),
    cloudMicros: sum((r) => r.cloudMicros),
    totalMicros: sum((r) => r.totalMicros),
  };
}

function inUsd(micros: CostBreakdown): CostBreakdownUsd {
  return {
    privateUsd: microsToUsd(micros.privateMicros),
    onDemandUsd: microsToUsd(micros.onDemandMicros),
    spotUsd: microsToUsd(micros.spotMicros),
    idleUsd: microsToUsd(micros.idleMicros),
    cloudUsd: microsToUsd(micros.cloudMicros),
    totalUsd: microsToUsd(micros.totalMicros),
  };
}
