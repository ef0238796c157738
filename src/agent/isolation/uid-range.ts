import { ValidationError } from '../../core/errors.ts';

/** An inclusive range of uids (and gids) tasks run as. */
export interface UidRange {
  readonly first: number;
  readonly last: number;
}

export const DEFAULT_TASK_UIDS: UidRange = { first: 61_000, last: 61_999 };

/** Parses `61000-61999`; throws a ValidationError naming `field`. Uid 0 and ranges past 2^31 are refused. */
export function parseUidRange(text: string, field = 'agent.taskUids'): UidRange {
  const match = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  const first = match ? Number(match[1]) : NaN;
  const last = match ? Number(match[2]) : NaN;
  if (!match || first < 1 || last < first || last > 2 ** 31 - 2) {
    throw new ValidationError(field, `expected a uid range FIRST-LAST from 1 to ${2 ** 31 - 2}, got ${JSON.stringify(text)}`);
  }
  return { first, last };
}
