/**
 * Failover: issue 17's lab (test/e2e/failover-harness.ts: three `spillway serve` processes in their own network
 * namespaces on one PostgreSQL on a bridge, bursting into the EC2 emulator) and 20 seeded SIGKILLs of the leader, each
 * a random 0-3 s into a burst of 2-4 tasks submitted through a standby; the killed controller is started again before
 * the next round. Per kill: the time from the SIGKILL to the new leader's "took the lease; acting" log line (its
 * own timestamp, on the same host clock as the kill). That line, not the first "decided launch": a takeover is the
 * first decision every round has (the moment the new controller may act on anything), while a launch decision follows
 * only in the rounds where the killed leader had not yet launched for its burst, so it would measure the burst's
 * timing as much as the failover. Median and p99; target at most leaseTtlMs plus one pass interval. Then issue 17's
 * checks over everything: 0 duplicate or unknown instances at the emulator, 0 lost tasks, every task done.
 * Needs root (namespaces) and Debian's PostgreSQL. `--quick`: 3 kills.
 */
import { seededRandom } from '../src/core/random.ts';
import { FailoverLab, runSeededKills } from '../test/e2e/failover-harness.ts';
import { quantile, round, type Benchmark, type BenchContext, type BenchResult } from './lib/bench.ts';

const KILLS = 20;
const LEASE_TTL_MS = 3_000;
const PASS_INTERVAL_MS = 200;

export const benchmark: Benchmark = {
  name: 'failover',
  description: `three controllers on PostgreSQL in network namespaces: ${KILLS} seeded SIGKILLs of the leader mid-burst, SIGKILL to the new leader taking the lease (median, p99), then duplicates, unknown instances, lost tasks`,
  async run(ctx: BenchContext): Promise<BenchResult> {
    process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
    process.env['METADATA_SERVER_DETECTION'] = 'none';
    const kills = ctx.quick ? 3 : KILLS;
    ctx.log(`failover: ${kills} kills, seed ${ctx.seed}, leaseTtlMs ${LEASE_TTL_MS}, passIntervalMs ${PASS_INTERVAL_MS}`);
    const lab = await FailoverLab.start({ leaseTtlMs: LEASE_TTL_MS, passIntervalMs: PASS_INTERVAL_MS });
    try {
      const rounds = await runSeededKills(lab, kills, seededRandom(ctx.seed), (r) =>
        ctx.log(
          `  kill ${r.round}: controller ${r.killed} ${r.delayMs} ms into a burst of ${r.tasks}; ` +
            `controller ${r.newLeader} took over after ${r.takeoverMs} ms`,
        ),
      );
      const takeovers = rounds.map((r) => r.takeoverMs);
      // check() throws on any duplicate, unknown instance, lost or unfinished task: a result is only written clean.
      const found = await lab.check();
      return {
        metrics: {
          kills,
          'takeover.p50Ms': round(quantile(takeovers, 0.5), 0),
          'takeover.p99Ms': round(quantile(takeovers, 0.99), 0),
          'takeover.maxMs': Math.max(...takeovers),
          duplicateOrUnknownInstances: 0,
          lostTasks: 0,
          tasks: found.tasks,
          instances: found.instances,
          launchIntents: found.launchIntents,
        },
        details: { seed: ctx.seed, leaseTtlMs: LEASE_TTL_MS, passIntervalMs: PASS_INTERVAL_MS, rounds },
        targets: [{ metric: 'takeover.p99Ms', max: LEASE_TTL_MS + PASS_INTERVAL_MS }],
      };
    } finally {
      await lab.close();
    }
  },
};
