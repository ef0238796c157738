import { readLines } from './line-reader.ts';
import { malformed, TraceLineError, type TraceReadOptions, type TraceTask } from './trace.ts';

/**
 * Readers of the Standard Workload Format (SWF 2.2, Parallel Workloads Archive), plain or gzipped, streaming.
 *
 * Each job line holds 18 whitespace-separated numbers: 1 job id, 2 submit time (s), 3 wait (s), 4 run time (s),
 * 5 allocated processors, 6 average CPU time, 7 used memory (KB per processor), 8 requested processors, 9 requested
 * time, 10 requested memory (KB per processor), 11 status, 12 user id, 13 group id, 14 executable, 15 queue,
 * 16 partition, 17 preceding job, 18 think time; `-1` means unknown. Header lines start with `;`.
 *
 * A job becomes one task (documented defaults where a field is unknown):
 * - CPU: the requested processors (field 8), else the allocated ones (field 5), one core each; both unknown is a
 *   malformed line.
 * - memory: the requested memory per processor (field 10), else the used memory (field 7), else
 *   `memoryPerProcessorMiB` (default 1,024 MiB), times the processors.
 * - run time: field 4; unknown (-1) is a malformed line (the job cannot be replayed).
 * - owner: team `g<group id>`, project `u<user id>` (`unknown` for -1), job `job-<job id>`.
 * - `revocable` as the option says (default false: SWF does not say).
 */
export interface SwfReadOptions extends TraceReadOptions {
  /** Memory per processor when the log has none; default 1,024 MiB. */
  readonly memoryPerProcessorMiB?: number;
  /** Whether the tasks may run on spot; default false. */
  readonly revocable?: boolean;
}

/** The header of an SWF log: its `; Key: value` lines, and the numbers the simulator uses. */
export interface SwfHeader {
  readonly fields: Readonly<Record<string, string>>;
  /** `MaxProcs` (else `MaxNodes`), the machine's size; null when the header has neither. */
  readonly maxProcs: number | null;
  /** `UnixStartTime`: the epoch second submit times count from; null when absent. */
  readonly unixStartTime: number | null;
  /** `MaxJobs`, for progress; null when absent. */
  readonly maxJobs: number | null;
}

export const DEFAULT_MEMORY_PER_PROCESSOR_MIB = 1_024;

const FIELDS = 18;
const NAMES = [
  'job id',
  'submit time',
  'wait time',
  'run time',
  'allocated processors',
  'average CPU time',
  'used memory',
  'requested processors',
  'requested time',
  'requested memory',
  'status',
  'user id',
  'group id',
  'executable',
  'queue',
  'partition',
  'preceding job',
  'think time',
] as const;

/** Reads the header lines (those before the first job) and stops: the rest of the file is not read. */
export async function readSwfHeader(path: string): Promise<SwfHeader> {
  const fields: Record<string, string> = {};
  for await (const { text } of readLines(path)) {
    const line = text.trim();
    if (line === '') continue;
    if (!line.startsWith(';')) break;
    const match = /^;\s*([A-Za-z][\w-]*)\s*:\s*(.*)$/.exec(line);
    if (match && !(match[1]! in fields)) fields[match[1]!] = match[2]!.trim();
  }
  const num = (key: string): number | null => {
    const value = Number(fields[key]);
    return key in fields && Number.isFinite(value) && value > 0 ? value : null;
  };
  return {
    fields,
    maxProcs: num('MaxProcs') ?? num('MaxNodes'),
    unixStartTime: num('UnixStartTime'),
    maxJobs: num('MaxJobs'),
  };
}

/** Streams the jobs of an SWF log as tasks, in file order. Malformed lines fail or are skipped as `onMalformed` says. */
export async function* readSwf(path: string, opts: SwfReadOptions = {}): AsyncGenerator<TraceTask> {
  for await (const { text, line } of readLines(path)) {
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith(';')) continue;
    const parsed = parseSwfLine(trimmed, line, path, opts);
    if (parsed instanceof TraceLineError) malformed(opts, parsed);
    else yield parsed;
  }
}

/** One job line as a task, or the error that names what is wrong with it. Pure. */
export function parseSwfLine(
  text: string,
  line: number,
  path: string,
  opts: SwfReadOptions = {},
): TraceTask | TraceLineError {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== FIELDS) {
    return new TraceLineError(path, line, `expected ${FIELDS} fields, got ${parts.length}`);
  }
  const f: number[] = [];
  for (const [i, part] of parts.entries()) {
    const value = Number(part);
    if (!Number.isFinite(value)) {
      return new TraceLineError(path, line, `field ${i + 1} (${NAMES[i]}) is not a number: ${JSON.stringify(part)}`);
    }
    f.push(value);
  }
  const [id, submitS, , runS, allocated, , usedKb, requested, , requestedKb, , user, group] = f as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const processors = requested > 0 ? requested : allocated;
  if (!(processors > 0)) {
    return new TraceLineError(
      path,
      line,
      'field 8 (requested processors) and field 5 (allocated processors) are both unknown',
    );
  }
  if (runS < 0) return new TraceLineError(path, line, 'field 4 (run time) is unknown');
  if (submitS < 0) return new TraceLineError(path, line, 'field 2 (submit time) is unknown');
  const perProcessorMiB =
    requestedKb > 0
      ? requestedKb / 1024
      : usedKb > 0
        ? usedKb / 1024
        : (opts.memoryPerProcessorMiB ?? DEFAULT_MEMORY_PER_PROCESSOR_MIB);
  return {
    id: String(id),
    line,
    submitS,
    runS,
    owner: {
      team: group >= 0 ? `g${group}` : 'unknown',
      project: user >= 0 ? `u${user}` : 'unknown',
      job: `job-${id}`,
    },
    resources: {
      cpuMillis: Math.round(processors * 1000),
      memoryMiB: Math.ceil(perProcessorMiB * processors),
      gpus: 0,
      netMbps: 0,
    },
    revocable: opts.revocable ?? false,
    constraints: {},
  };
}
