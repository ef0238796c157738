import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { ValidationError } from '../../core/errors.ts';
import { loadConfig } from '../../config/load.ts';
import { defaultSimConfig, openTrace, simConfigFrom } from '../../sim/scenario.ts';
import { simulateTrace, type SimulationReport } from '../../sim/simulate.ts';
import { ProgressBar } from '../../sim/progress.ts';
import { WaitCause } from '../../sim/breakdown.ts';
import { OnMalformed } from '../../sim/trace.ts';
import { addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { parseIntFlag } from '../flags.ts';
import { renderFields, renderJson, renderTable, type OutputFormat } from '../format.ts';

interface SimulateFlags {
  readonly trace: string;
  readonly config?: string;
  readonly privateCpus?: string;
  readonly limit?: string;
  readonly seed: string;
  readonly onMalformed: OnMalformed;
  readonly format: OutputFormat;
}

/**
 * `spillway simulate`: replays a workload trace through the real controller on a simulated clock and clouds, and
 * reports cost and waits against private-only, a fixed node group and the fluid lower bound of cloud cost.
 */
export function simulateCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(
    parent,
    'simulate',
    'what-if: replay a trace (SWF, Alibaba CSV) through the real planner on a simulated clock; cost and waits vs baselines',
  )
    .requiredOption('--trace <file>', 'the trace: an SWF log (.swf, .swf.gz) or an Alibaba GPU pod list (.csv)')
    .option(
      '--config <file>',
      'spillway.yaml whose policy, budgets, providers and private rates to simulate (default: AWS us-east-1 and GCE us-central1 from the bundled catalog, the production policy)',
    )
    .option(
      '--private-cpus <n>',
      "the private cluster's CPUs (default: the trace's MaxProcs, or the Alibaba node list)",
    )
    .option('--limit <n>', 'replay only the first N tasks of the trace')
    .option('--seed <n>', 'seed of spot interruptions', '1')
    .addOption(
      new Option('--on-malformed <action>', 'a malformed trace line: fail (naming the line) or skip it with a warning')
        .choices(Object.values(OnMalformed))
        .default(OnMalformed.fail),
    );
  addFormatOption(cmd, ['table', 'json']);
  addExamples(cmd, [
    'spillway simulate --trace data/traces/KTH-SP2-1996-2.1-cln.swf.gz',
    'spillway simulate --trace data/traces/KTH-SP2-1996-2.1-cln.swf.gz --private-cpus 64 --format json',
    'spillway simulate --trace data/traces/alibaba-gpu-v2023/openb_pod_list_first4000.csv --config spillway.yaml',
  ]);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<SimulateFlags>();
    const { ctx } = app;
    const privateCpus =
      flags.privateCpus === undefined ? undefined : parseIntFlag('--private-cpus', flags.privateCpus, { min: 1 });
    const limit = flags.limit === undefined ? undefined : parseIntFlag('--limit', flags.limit, { min: 1 });
    const seed = parseIntFlag('--seed', flags.seed, { min: 0 });
    const path = resolve(ctx.cwd, flags.trace);
    const sim =
      flags.config === undefined ? defaultSimConfig() : simConfigFrom(loadConfig(resolve(ctx.cwd, flags.config)));
    let skipped = 0;
    const trace = await openTrace(path, {
      onMalformed: flags.onMalformed,
      onSkip: (err) => {
        if (skipped++ < 10) ctx.stderr.write(`spillway: skipped ${err.message}\n`);
      },
      ...(privateCpus === undefined ? {} : { privateCpus }),
      ...(limit === undefined ? {} : { limit }),
    }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new ValidationError('--trace', `no such file: ${path}`);
      throw err;
    });
    if (!trace.privateMachines) {
      throw new ValidationError(
        '--private-cpus',
        'the trace does not say how large its cluster was; give --private-cpus',
      );
    }
    const bar = new ProgressBar(ctx.stderr, trace.expectedTasks);
    const report = await simulateTrace(flags.trace, trace, sim, {
      seed,
      onProgress: (run, submitted) => bar.update(run, submitted),
    });
    bar.done();
    if (skipped > 0) ctx.stderr.write(`spillway: skipped ${skipped} malformed line(s) in all\n`);
    ctx.stdout.write(flags.format === 'json' ? renderJson(report) : renderSimulationReport(report));
  });
}

/** The wait causes any run counted a late task under, in WaitCause order. */
function causes(report: SimulationReport): WaitCause[] {
  return Object.values(WaitCause).filter((c) => report.runs.some((r) => r.waits.pastGraceByCause[c] > 0));
}

const usd = (v: number): string => `$${(Math.abs(v) < 0.005 ? 0 : v).toFixed(2)}`;
const hours = (v: number): string => v.toFixed(1);
const seconds = (v: number): string => (v >= 3600 ? `${(v / 3600).toFixed(1)} h` : `${Math.round(v)} s`);

/** The report for people: a summary, one column per run, cloud spend by provider and lifecycle, budget events. */
export function renderSimulationReport(report: SimulationReport): string {
  const spillway = report.runs.find((r) => r.name === 'spillway');
  const head = renderFields([
    ['trace', report.trace],
    ['tasks', spillway?.tasks.submitted ?? report.runs[0]?.tasks.submitted ?? 0],
    ['private cluster', `${report.privateCpus} CPUs`],
    ['simulated days', (spillway ?? report.runs[0])?.days.toFixed(1)],
  ]);
  const rows: [string, (r: SimulationReport['runs'][number]) => string][] = [
    ['total cost', (r) => usd(r.totalUsd)],
    ['  private (amortized)', (r) => usd(r.privateUsd)],
    ['  cloud', (r) => usd(r.cloudUsd)],
    ['cloud instance-hours', (r) => hours(r.cloudInstanceHours)],
    ['  cloud: booting', (r) => usd(r.cloudParts.bootUsd)],
    ['  cloud: idle between tasks', (r) => usd(r.cloudParts.idleBetweenTasksUsd)],
    ['  cloud: idle before release', (r) => usd(r.cloudParts.idleBeforeReleaseUsd)],
    ['  cloud: billing minimums', (r) => usd(r.cloudParts.minimumsUsd)],
    ['  cloud: packing loss', (r) => usd(r.cloudParts.packingLossUsd)],
    ['  cloud: capacity used', (r) => usd(r.cloudParts.workUsd)],
    ['wait p50', (r) => seconds(r.waitS.p50)],
    ['wait p95', (r) => seconds(r.waitS.p95)],
    ['wait p99', (r) => seconds(r.waitS.p99)],
    ['wait max', (r) => seconds(r.waits.maxS)],
    ['waited past grace', (r) => String(r.waitedPastGrace)],
    ...causes(report).map((c): [string, (r: SimulationReport['runs'][number]) => string] => [
      `  ${c}`,
      (r) => String(r.waits.pastGraceByCause[c]),
    ]),
    ['never started', (r) => String(r.tasks.neverStarted)],
    ['budget alerts', (r) => String(r.budgetAlerts.length)],
    ['spot interruptions', (r) => String(r.spotInterruptions)],
    ['replay wall time', (r) => `${r.wallS.toFixed(1)} s`],
    ['replay CPU time', (r) => `${r.cpuS.toFixed(1)} s`],
  ];
  const compare = renderTable({
    columns: [{ header: '' }, ...report.runs.map((r) => ({ header: r.name.toUpperCase(), align: 'right' as const }))],
    rows: [
      ...rows.map(([label, cell]) => [label, ...report.runs.map(cell)]),
      ['cloud lower bound', ...report.runs.map((r) => (r.name === 'spillway' ? usd(report.lowerBound.usd) : ''))],
    ],
  });
  const cloud = renderTable({
    columns: [
      { header: 'RUN' },
      { header: 'PROVIDER' },
      { header: 'LIFECYCLE' },
      { header: 'INSTANCES', align: 'right' },
      { header: 'INSTANCE-HOURS', align: 'right' },
      { header: 'COST', align: 'right' },
    ],
    rows: report.runs.flatMap((r) =>
      r.cloud.map((l) => [r.name, l.providerId, l.lifecycle, l.instances, hours(l.instanceHours), usd(l.usd)]),
    ),
  });
  const alerts = report.runs.flatMap((r) =>
    r.budgetAlerts.map(
      (a) => `  ${r.name}: budget ${a.budget} reached ${a.percent}% at ${new Date(a.atMs).toISOString()}`,
    ),
  );
  const over = report.overBound;
  const overTable =
    over && over.boundUsd > 0
      ? renderFields([
          ['spillway cloud over the bound', `${usd(over.overUsd)} (${over.ratio.toFixed(2)} x ${usd(over.boundUsd)})`],
          ['  booting', usd(over.bootUsd)],
          ['  idle between tasks', usd(over.idleBetweenTasksUsd)],
          ['  idle before release', usd(over.idleBeforeReleaseUsd)],
          ['  billing minimums', usd(over.minimumsUsd)],
          ['  packing loss', usd(over.packingLossUsd)],
          ['  price gap to the bound', usd(over.priceGapUsd)],
        ])
      : '';
  const notes = [
    ...report.runs.map((r) => `${r.name}: ${r.description}`),
    `cloud lower bound: the fluid LP bound of the ${report.lowerBound.taskHours.toFixed(1)} task-hours Spillway ran in the cloud`,
    'waited past grace, by the reason stored on each task when it started: limit (burst limit), no-fit (no allowed ' +
      'offering fits), budget, launch (a launch was made for it: call and boot), covered (no reason: capacity on ' +
      'its way for other tasks, or private room, took it), private-only, paused, other',
  ];
  return [
    head,
    compare,
    report.runs.some((r) => r.cloud.length > 0) ? `\n${cloud}` : '',
    overTable ? `\n${overTable}` : '',
    alerts.length ? `\nbudget events:\n${alerts.join('\n')}\n` : '',
    `\n${notes.join('\n')}\n`,
  ].join('');
}
