import type { Resources } from '../core/resources.ts';
import { readLines } from './line-reader.ts';
import { malformed, TraceLineError, type TraceReadOptions, type TraceTask } from './trace.ts';

/**
 * Readers of the Alibaba GPU cluster trace (`cluster-trace-gpu-v2023`), streaming.
 *
 * Pods (`openb_pod_list_*.csv`, columns by header name): `name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec,
 * qos, pod_phase, creation_time, deletion_time, scheduled_time` (times in seconds from the trace's start). A pod
 * becomes one task:
 * - resources: `cpu_milli`, `memory_mib`, and `num_gpu` whole GPUs (a GPU-sharing pod, `gpu_milli` < 1000, takes
 *   one whole GPU: clouds rent no fractions);
 * - constraints: `gpu_spec` (`|`-separated models) as the GPU models it accepts; empty accepts any;
 * - run time: `deletion_time - scheduled_time` (else `- creation_time`), at least 0; a missing deletion time is a
 *   malformed line;
 * - owner: team `alibaba`, project the QoS class, job the pod name; revocable when the QoS is `BE` (best effort).
 * Nodes (`openb_node_list_*.csv`): `sn, cpu_milli, memory_mib, gpu, model`: the private cluster's machines.
 */
const POD_COLUMNS = [
  'name',
  'cpu_milli',
  'memory_mib',
  'num_gpu',
  'gpu_milli',
  'gpu_spec',
  'qos',
  'creation_time',
  'deletion_time',
  'scheduled_time',
] as const;
const NODE_COLUMNS = ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model'] as const;

/** One machine of the Alibaba cluster. */
export interface TraceNode {
  readonly name: string;
  readonly capacity: Resources;
  /** The GPU model, or null for a CPU-only node. */
  readonly gpuModel: string | null;
}

type Row<K extends string> = Readonly<Record<K, string>>;

/** Streams the rows of a header-named CSV (no quoted fields: these traces have none) as records of `columns`. */
async function* readCsv<K extends string>(
  path: string,
  columns: readonly K[],
  opts: TraceReadOptions,
): AsyncGenerator<{ row: Row<K>; line: number }> {
  let index: Map<K, number> | undefined;
  let width = 0;
  for await (const { text, line } of readLines(path)) {
    if (text.trim() === '') continue;
    const cells = text.split(',');
    if (!index) {
      const header = cells.map((c) => c.trim());
      const missing = columns.filter((c) => !header.includes(c));
      if (missing.length > 0) throw new TraceLineError(path, line, `the header lacks column(s) ${missing.join(', ')}`);
      index = new Map(columns.map((c) => [c, header.indexOf(c)]));
      width = header.length;
      continue;
    }
    if (cells.length !== width) {
      malformed(opts, new TraceLineError(path, line, `expected ${width} fields, got ${cells.length}`));
      continue;
    }
    const row = {} as Record<K, string>;
    for (const [c, i] of index) row[c] = cells[i]!.trim();
    yield { row, line };
  }
}

function integer(row: Row<string>, column: string, path: string, line: number): number | TraceLineError {
  const text = row[column] ?? '';
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value < 0) {
    return new TraceLineError(path, line, `${column} is not a non-negative number: ${JSON.stringify(text)}`);
  }
  return value;
}

/** Streams the pods of an Alibaba pod list as tasks, in file order. */
export async function* readAlibabaPods(path: string, opts: TraceReadOptions = {}): AsyncGenerator<TraceTask> {
  for await (const { row, line } of readCsv(path, POD_COLUMNS, opts)) {
    const task = podTask(row, line, path);
    if (task instanceof TraceLineError) malformed(opts, task);
    else yield task;
  }
}

function podTask(row: Row<(typeof POD_COLUMNS)[number]>, line: number, path: string): TraceTask | TraceLineError {
  const values: Record<string, number> = {};
  for (const column of ['cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli', 'creation_time', 'deletion_time'] as const) {
    const value = integer(row, column, path, line);
    if (value instanceof TraceLineError) return value;
    values[column] = value;
  }
  const scheduled = row.scheduled_time === '' ? values.creation_time! : Number(row.scheduled_time);
  const startS = Number.isFinite(scheduled) && scheduled >= 0 ? scheduled : values.creation_time!;
  const gpus = values.num_gpu! > 0 ? values.num_gpu! : values.gpu_milli! > 0 ? 1 : 0;
  const models = row.gpu_spec.split('|').filter((m) => m !== '');
  return {
    id: row.name,
    line,
    submitS: values.creation_time!,
    runS: Math.max(0, values.deletion_time! - startS),
    owner: { team: 'alibaba', project: row.qos || 'unknown', job: row.name },
    resources: { cpuMillis: values.cpu_milli!, memoryMiB: values.memory_mib!, gpus, netMbps: 0 },
    revocable: row.qos === 'BE',
    constraints: models.length > 0 && gpus > 0 ? { gpuModels: models } : {},
  };
}

/** Streams the machines of an Alibaba node list. */
export async function* readAlibabaNodes(path: string, opts: TraceReadOptions = {}): AsyncGenerator<TraceNode> {
  for await (const { row, line } of readCsv(path, NODE_COLUMNS, opts)) {
    const values: number[] = [];
    let error: TraceLineError | undefined;
    for (const column of ['cpu_milli', 'memory_mib', 'gpu'] as const) {
      const value = integer(row, column, path, line);
      if (value instanceof TraceLineError) error ??= value;
      else values.push(value);
    }
    if (error) {
      malformed(opts, error);
      continue;
    }
    const [cpuMillis, memoryMiB, gpus] = values as [number, number, number];
    yield {
      name: row.sn,
      capacity: { cpuMillis, memoryMiB, gpus, netMbps: 0 },
      gpuModel: gpus > 0 && row.model !== '' && row.model !== 'nan' ? row.model : null,
    };
  }
}
