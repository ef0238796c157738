/**
 * Minimal readers of the traces in data/traces/ for the benchmarks: just the fields they use. The simulator's full
 * readers live in src/sim/ (a later milestone).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const TRACES_DIR = fileURLToPath(new URL('../../data/traces/', import.meta.url));

/** One job of a Standard Workload Format log. */
export interface SwfJob {
  readonly id: number;
  readonly submitS: number;
  readonly runS: number;
  /** Allocated processors, or requested when allocation is unknown. */
  readonly processors: number;
}

/** Reads an SWF log (optionally gzipped); skips header lines and jobs with no known processor count. */
export function readSwf(path: string): SwfJob[] {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  const jobs: SwfJob[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(';') || line.trim() === '') continue;
    const f = line.trim().split(/\s+/).map(Number);
    const processors = f[4]! > 0 ? f[4]! : f[7]!;
    if (!(processors > 0)) continue;
    jobs.push({ id: f[0]!, submitS: f[1]!, runS: f[3]!, processors });
  }
  return jobs;
}

/** One pod of the Alibaba GPU cluster trace (cluster-trace-gpu-v2023). */
export interface AlibabaPod {
  readonly name: string;
  readonly cpuMillis: number;
  readonly memoryMiB: number;
  readonly gpus: number;
  /** Thousandths of one GPU for GPU-sharing pods (gpus == 1); 1000 for a whole GPU. */
  readonly gpuMilli: number;
  /** Allowed GPU models; empty for any. */
  readonly gpuSpec: readonly string[];
  /** LS, BE, Burstable, Guaranteed. */
  readonly qos: string;
  readonly creationS: number;
}

export function readAlibabaPods(path: string): AlibabaPod[] {
  const [header, ...rows] = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const columns = header!.split(',');
  const at = (name: string): number => columns.indexOf(name);
  return rows.map((row) => {
    const f = row.split(',');
    return {
      name: f[at('name')]!,
      cpuMillis: Number(f[at('cpu_milli')]),
      memoryMiB: Number(f[at('memory_mib')]),
      gpus: Number(f[at('num_gpu')]),
      gpuMilli: Number(f[at('gpu_milli')]),
      gpuSpec: (f[at('gpu_spec')] ?? '').split('|').filter((s) => s !== ''),
      qos: f[at('qos')]!,
      creationS: Number(f[at('creation_time')]),
    };
  });
}
