import type { SubmitRequest, TaskSpec } from '../api/types.ts';
import { ValidationError } from '../core/errors.ts';
import { parseCpuMillis, parseMemoryMiB } from '../core/resources.ts';
import { parseIntFlag, parseNameFlag } from './flags.ts';

/** The task flags of `submit` and `run`, as commander hands them over. */
export interface TaskFlags {
  /** Required; optional here so that a bad value given is reported before a missing one. */
  readonly cpu?: string;
  readonly memory?: string;
  readonly gpus?: string;
  readonly netMbps?: string;
  readonly team?: string;
  readonly project?: string;
  readonly job?: string;
  readonly priority?: string;
  readonly revocable?: boolean;
  readonly privateOnly?: boolean;
}

/** The API takes 1 to 1,000 tasks per submission. */
export const MAX_TASKS_PER_SUBMIT = 1_000;

/**
 * Turns task flags and the command after `--` into one TaskSpec, validating every value. Fields the user left out
 * are left out of the body, so the server's defaults apply (owner `default`, priority 0, not revocable).
 */
export function taskSpecFromFlags(flags: TaskFlags, command: readonly string[]): TaskSpec {
  if (command.length === 0 || command[0] === '') {
    throw new ValidationError('CMD', 'give the command to run after --, for example: -- python train.py');
  }
  const cpuMillis = flags.cpu === undefined ? undefined : parseCpuMillis(flags.cpu, '--cpu');
  const memoryMiB = flags.memory === undefined ? undefined : parseMemoryMiB(flags.memory, '--memory');
  if (cpuMillis === undefined)
    throw new ValidationError('--cpu', 'required: the CPU the task needs, such as 1, 0.5 or 500m');
  if (memoryMiB === undefined)
    throw new ValidationError('--memory', 'required: the memory the task needs, such as 512Mi or 4Gi');
  const resources: { cpu: number; memory: number; gpus?: number; netMbps?: number } = {
    cpu: cpuMillis / 1000,
    memory: memoryMiB,
  };
  if (flags.gpus !== undefined) resources.gpus = parseIntFlag('--gpus', flags.gpus, { min: 0, max: 64 });
  if (flags.netMbps !== undefined) resources.netMbps = parseIntFlag('--net-mbps', flags.netMbps, { min: 0 });

  const owner: { team?: string; project?: string; job?: string } = {};
  if (flags.team !== undefined) owner.team = parseNameFlag('--team', flags.team);
  if (flags.project !== undefined) owner.project = parseNameFlag('--project', flags.project);
  if (flags.job !== undefined) owner.job = parseNameFlag('--job', flags.job);

  const spec: {
    -readonly [K in keyof TaskSpec]: TaskSpec[K];
  } = { command: [...command], resources };
  if (Object.keys(owner).length > 0) spec.owner = owner;
  if (flags.priority !== undefined) {
    spec.priority = parseIntFlag('--priority', flags.priority, { min: -1_000_000, max: 1_000_000 });
  }
  if (flags.revocable) spec.revocable = true;
  if (flags.privateOnly) spec.constraints = { privateOnly: true };
  return spec;
}

/** `--count` identical tasks in one all-or-nothing submission. */
export function submitRequestFromFlags(
  flags: TaskFlags & { readonly count?: string },
  command: readonly string[],
): SubmitRequest {
  const count =
    flags.count === undefined ? 1 : parseIntFlag('--count', flags.count, { min: 1, max: MAX_TASKS_PER_SUBMIT });
  const spec = taskSpecFromFlags(flags, command);
  return { tasks: Array.from({ length: count }, () => spec) };
}
