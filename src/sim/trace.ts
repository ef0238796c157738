import { SpillwayError } from '../core/errors.ts';
import type { Owner } from '../core/owner.ts';
import type { Resources } from '../core/resources.ts';
import type { TaskConstraints } from '../core/task.ts';

/** One job of a trace, as the simulator submits it: a Spillway task plus when it arrives and how long it runs. */
export interface TraceTask {
  /** The trace's own id of the job (SWF job number, Alibaba pod name). */
  readonly id: string;
  /** The 1-based line of the file it came from. */
  readonly line: number;
  /** Seconds from the trace's start to the submission. */
  readonly submitS: number;
  /** How long it runs once started, in seconds. */
  readonly runS: number;
  readonly owner: Owner;
  readonly resources: Resources;
  readonly revocable: boolean;
  readonly constraints: TaskConstraints;
}

/** What a reader does with a line it cannot read: `fail` throws TraceLineError; `skip` reports it and goes on. */
export const OnMalformed = { fail: 'fail', skip: 'skip' } as const;
export type OnMalformed = (typeof OnMalformed)[keyof typeof OnMalformed];

export interface TraceReadOptions {
  /** Default `fail`. */
  readonly onMalformed?: OnMalformed;
  /** Told of every skipped line (with `skip`). */
  readonly onSkip?: (error: TraceLineError) => void;
}

/** A line of a trace file that does not follow the format, naming the file, the line and the field. */
export class TraceLineError extends SpillwayError {
  override readonly name = 'TraceLineError';
  readonly path: string;
  readonly line: number;

  constructor(path: string, line: number, problem: string) {
    super(`reading ${path} line ${line}: ${problem}`);
    this.path = path;
    this.line = line;
  }
}

/** Applies `onMalformed`: rethrows, or reports and returns. */
export function malformed(opts: TraceReadOptions, error: TraceLineError): void {
  if ((opts.onMalformed ?? 'fail') === 'fail') throw error;
  opts.onSkip?.(error);
}
