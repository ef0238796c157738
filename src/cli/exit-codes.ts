import { CommanderError } from 'commander';
import { ApiError } from '../api/client.ts';
import { SpillwayError, ValidationError } from '../core/errors.ts';
import type { CliContext } from './context.ts';

/**
 * Exit codes of every `spillway` command. `run` also exits with the task's own code (see commands/run.ts), so a
 * script that needs to tell them apart should use `--format json`.
 */
export const ExitCode = {
  ok: 0,
  /** The server refused the call, could not be reached, or something else failed. */
  failure: 1,
  /** A flag, argument, file or config value is wrong; nothing was sent. */
  usage: 2,
  /** `run`: the task was cancelled (by `tasks cancel`, or Ctrl-C on `run`). */
  cancelled: 130,
} as const;

/**
 * Prints an error as `spillway: <message>` on stderr and returns the exit code for it. Stack traces only with
 * SPILLWAY_DEBUG=1. Commander has printed its own errors already (see program.ts), so only their code is mapped.
 */
export function reportError(err: unknown, ctx: CliContext): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  const debug = ctx.env.SPILLWAY_DEBUG === '1';
  ctx.stderr.write(`spillway: ${describeError(err)}\n`);
  const hint = hintFor(err);
  if (hint) ctx.stderr.write(`hint: ${hint}\n`);
  if (debug && err instanceof Error && err.stack) ctx.stderr.write(`${err.stack}\n`);
  return exitCodeFor(err);
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ApiError) return ExitCode.failure;
  if (err instanceof ValidationError) return ExitCode.usage;
  return ExitCode.failure;
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const field = err.field && !err.message.includes(err.field) ? ` (field ${err.field})` : '';
    return `the server answered ${err.status} ${err.code}: ${err.message}${field}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

function hintFor(err: unknown): string | undefined {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'check the token: --token, SPILLWAY_TOKEN, or .spillway/admin.token';
    if (err.status === 403) return 'this token lacks the role for that call (see `spillway token list`)';
    return undefined;
  }
  if (err instanceof SpillwayError && err.retryable && /^calling /.test(err.message)) {
    return 'is the controller running? Start one with `spillway serve`, or point --url / SPILLWAY_URL at it';
  }
  return undefined;
}
