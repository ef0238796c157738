import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.ts';
import { overBound, type OverBound } from './breakdown.ts';
import { cloudWorkBound, type CloudBound } from './cloud-bound.ts';
import { runFigures, type RunFigures } from './figures.ts';
import { variants, type OpenedTrace, type SimConfig, type Variant } from './scenario.ts';
import { Simulation, type Decision } from './simulation.ts';

/** One run of the report: which variant, its figures and how long it took. */
export interface VariantReport extends RunFigures {
  readonly name: Variant['name'];
  readonly description: string;
  readonly wallS: number;
  /** CPU time of this process during the run (on a shared machine, wall time counts other processes' turns too). */
  readonly cpuS: number;
}

/** What `spillway simulate` prints. */
export interface SimulationReport {
  readonly trace: string;
  readonly privateCpus: number;
  readonly runs: readonly VariantReport[];
  /** The fluid lower bound of the cloud cost of the work Spillway's run sent to the cloud. */
  readonly lowerBound: CloudBound;
  /** Spillway's cloud cost over that bound, by cause (undefined when Spillway's run was not made). */
  readonly overBound: OverBound | undefined;
}

export interface SimulateOptions {
  readonly seed?: number;
  readonly logger?: Logger;
  /** Only these variants (default all three). */
  readonly only?: readonly Variant['name'][];
  /** Told of each run's progress: which run, tasks submitted, simulated time. */
  readonly onProgress?: (run: Variant['name'], submitted: number, nowMs: number) => void;
  /** Keep Spillway's run's decisions (tests). */
  readonly decisionLog?: (decisions: readonly Decision[]) => void;
}

/** Replays the trace once per variant (Spillway, private-only, fixed node group) and reports them side by side. */
export async function simulateTrace(
  path: string,
  trace: OpenedTrace,
  sim: SimConfig,
  opts: SimulateOptions = {},
): Promise<SimulationReport> {
  const privateMachines = trace.privateMachines ?? [];
  let largest = { cpuMillis: 0, memoryMiB: 0, gpus: 0 };
  for await (const t of trace.tasks()) {
    largest = {
      cpuMillis: Math.max(largest.cpuMillis, t.resources.cpuMillis),
      memoryMiB: Math.max(largest.memoryMiB, t.resources.memoryMiB),
      gpus: Math.max(largest.gpus, t.resources.gpus),
    };
  }
  const runs: VariantReport[] = [];
  let lowerBound: CloudBound = { usd: 0, taskHours: 0 };
  let over: OverBound | undefined;
  for (const variant of variants(sim, largest)) {
    if (opts.only && !opts.only.includes(variant.name)) continue;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const simulation = new Simulation({
      trace: trace.tasks(),
      startMs: trace.startMs,
      privateMachines,
      clouds: variant.clouds,
      policy: variant.policy,
      budgets: sim.budgets,
      seed: opts.seed ?? 1,
      decisionLog: variant.name === 'spillway' && opts.decisionLog !== undefined,
      ...(opts.logger ? { logger: opts.logger } : {}),
      onProgress: (p) => opts.onProgress?.(variant.name, p.submitted, p.nowMs),
    });
    const run = await simulation.run();
    const cpu = process.cpuUsage(cpuBefore);
    const wallS = (performance.now() - started) / 1000;
    try {
      const figures = runFigures(run, variant.policy, sim.privateRates);
      runs.push({
        name: variant.name,
        description: variant.description,
        ...figures,
        wallS,
        cpuS: (cpu.user + cpu.system) / 1e6,
      });
      if (variant.name === 'spillway') {
        opts.decisionLog?.(run.decisions);
        lowerBound = await cloudWorkBound(
          run.store,
          { fromMs: run.startMs, toMs: run.endMs + 1 },
          variant.clouds.flatMap((c) => c.offerings),
          variant.policy,
        );
        over = overBound(figures.cloudParts, lowerBound.usd);
      }
    } finally {
      run.store.close();
    }
  }
  return {
    trace: path,
    privateCpus: privateMachines.reduce((s, m) => s + m.capacity.cpuMillis, 0) / 1000,
    runs,
    lowerBound,
    overBound: over,
  };
}
