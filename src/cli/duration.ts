import { ValidationError } from '../core/errors.ts';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration flag such as `90s`, `30m`, `24h` or `7d`, in milliseconds. Throws a ValidationError naming `flag` and
 * the value for anything else.
 */
export function parseDurationFlag(flag: string, raw: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(raw.trim());
  if (!match) {
    throw new ValidationError(flag, `expected a duration such as 90s, 30m, 24h or 7d, got ${JSON.stringify(raw)}`);
  }
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
