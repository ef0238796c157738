import type { Owner } from '../core/owner.ts';
import type { ChargebackBy } from './chargeback.ts';

/** One run of a task as the ledger has it, with what it asked for and, when its agent measured it, what it used. */
export interface MeasuredRun {
  readonly owner: Owner;
  readonly cpuMillis: number;
  readonly memoryMiB: number;
  readonly startMs: number;
  /** Null while it runs. */
  readonly endMs: number | null;
  /** From the run's cgroup at its exit; null when not measured (still running, requeued, cancelled, no isolation). */
  readonly cpuSeconds: number | null;
  readonly peakMemoryBytes: number | null;
}

/** Requested and used resource-hours of one group over a window. */
export interface UseFigures {
  /** CPUs asked for x hours run, every run. */
  readonly requestedCpuHours: number;
  /** GiB asked for x hours run, every run. */
  readonly requestedGiBHours: number;
  /** Of measured runs: CPU time used, in hours. */
  readonly usedCpuHours: number;
  /** Of measured runs: peak memory x hours run (an upper bound of the memory held). */
  readonly usedGiBHours: number;
  /** usedCpuHours / the CPU-hours measured runs asked for; null without a measured run. */
  readonly cpuEfficiency: number | null;
  /** usedGiBHours / the GiB-hours measured runs asked for; null without a measured run. */
  readonly memoryEfficiency: number | null;
}

const HOUR_MS = 3_600_000;
const GiB = 1_073_741_824;

/**
 * Requested against used resource-hours per owner group over [fromMs, toMs) (pure). A run counts for the part of it
 * inside the window; its measured use is spread evenly over its length, so a window holding half a run holds half its
 * CPU time. Keys are `JSON.stringify([team, project | null, job | null])`, as the chargeback groups rows.
 */
export function measuredUse(
  runs: readonly MeasuredRun[],
  window: { readonly fromMs: number; readonly toMs: number },
  nowMs: number,
  by: ChargebackBy,
): { readonly groups: Map<string, UseFigures>; readonly total: UseFigures } {
  const sums = new Map<string, Sums>();
  const total = emptySums();
  for (const run of runs) {
    const endMs = run.endMs ?? nowMs;
    const inside = Math.max(0, Math.min(endMs, window.toMs) - Math.max(run.startMs, window.fromMs));
    if (inside === 0) continue;
    const key = useGroupKey(run.owner, by);
    const group = sums.get(key) ?? emptySums();
    sums.set(key, group);
    for (const s of [group, total]) add(s, run, inside, endMs - run.startMs);
  }
  return { groups: new Map([...sums].map(([k, s]) => [k, figures(s)])), total: figures(total) };
}

export function useGroupKey(
  owner: { readonly team: string; readonly project: string | null; readonly job: string | null },
  by: ChargebackBy,
): string {
  return JSON.stringify([owner.team, by === 'team' ? null : owner.project, by === 'job' ? owner.job : null]);
}

interface Sums {
  requestedCpuHours: number;
  requestedGiBHours: number;
  measuredRequestedCpuHours: number;
  measuredRequestedGiBHours: number;
  usedCpuHours: number;
  usedGiBHours: number;
  measured: boolean;
}

function emptySums(): Sums {
  return {
    requestedCpuHours: 0,
    requestedGiBHours: 0,
    measuredRequestedCpuHours: 0,
    measuredRequestedGiBHours: 0,
    usedCpuHours: 0,
    usedGiBHours: 0,
    measured: false,
  };
}

function add(s: Sums, run: MeasuredRun, insideMs: number, lengthMs: number): void {
  const hours = insideMs / HOUR_MS;
  const cpuHours = (run.cpuMillis / 1000) * hours;
  const gibHours = (run.memoryMiB / 1024) * hours;
  s.requestedCpuHours += cpuHours;
  s.requestedGiBHours += gibHours;
  if (run.cpuSeconds === null || run.peakMemoryBytes === null) return;
  s.measured = true;
  s.measuredRequestedCpuHours += cpuHours;
  s.measuredRequestedGiBHours += gibHours;
  const fraction = lengthMs > 0 ? insideMs / lengthMs : 1;
  s.usedCpuHours += (run.cpuSeconds / 3_600) * fraction;
  s.usedGiBHours += (run.peakMemoryBytes / GiB) * hours;
}

function figures(s: Sums): UseFigures {
  const ratio = (used: number, asked: number): number | null => (!s.measured || asked === 0 ? null : used / asked);
  return {
    requestedCpuHours: s.requestedCpuHours,
    requestedGiBHours: s.requestedGiBHours,
    usedCpuHours: s.usedCpuHours,
    usedGiBHours: s.usedGiBHours,
    cpuEfficiency: ratio(s.usedCpuHours, s.measuredRequestedCpuHours),
    memoryEfficiency: ratio(s.usedGiBHours, s.measuredRequestedGiBHours),
  };
}
