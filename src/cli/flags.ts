import { ValidationError } from '../core/errors.ts';

/**
 * Validators for flag values as commander hands them over (strings). Each throws a ValidationError naming the flag
 * and quoting the value received, which the CLI reports with exit code 2.
 */

/** A whole number within [min, max]. */
export function parseIntFlag(flag: string, raw: string, bounds: { min?: number; max?: number } = {}): number {
  const min = bounds.min ?? Number.MIN_SAFE_INTEGER;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  const value = /^\s*[-+]?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValidationError(flag, `expected a whole number${rangeText(min, max)}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function rangeText(min: number, max: number): string {
  const hasMin = min > Number.MIN_SAFE_INTEGER;
  const hasMax = max < Number.MAX_SAFE_INTEGER;
  if (hasMin && hasMax) return ` from ${min} to ${max}`;
  if (hasMin) return min === 0 ? ' (0 or more)' : ` of at least ${min}`;
  if (hasMax) return ` of at most ${max}`;
  return '';
}

/** `a,b,c` -> ['a', 'b', 'c']; blanks around commas are ignored; an empty item is an error. */
export function parseListFlag(flag: string, raw: string): string[] {
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw new ValidationError(flag, `expected a comma-separated list without empty items, got ${JSON.stringify(raw)}`);
  }
  return items;
}

/** A comma-separated list whose every item is one of `allowed`. */
export function parseChoiceList<T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] {
  const items = parseListFlag(flag, raw);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new ValidationError(flag, `expected some of ${allowed.join(', ')}, got ${JSON.stringify(item)}`);
    }
  }
  return items as T[];
}

/**
 * `k=v,k2=v2` -> { k: 'v', k2: 'v2' }. Keys are non-empty and unique; a value may be empty (`k=`). An empty flag
 * means no labels (boot scripts pass `--labels ''` for an offering without any).
 */
export function parseLabels(flag: string, raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw.trim() === '') return labels;
  for (const item of parseListFlag(flag, raw)) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq).trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(key)) {
      throw new ValidationError(
        flag,
        `expected key=value pairs such as zone=a,gpu.model=T4, got ${JSON.stringify(item)}`,
      );
    }
    if (Object.hasOwn(labels, key)) throw new ValidationError(flag, `label ${JSON.stringify(key)} is given twice`);
    labels[key] = item.slice(eq + 1).trim();
  }
  return labels;
}

/** A non-empty name (team, project, job, token name): printable, at most 128 characters. */
export function parseNameFlag(flag: string, raw: string): string {
  const value = raw.trim();
  if (value === '' || value.length > 128 || /[\p{Cc}]/u.test(value)) {
    throw new ValidationError(flag, `expected a name of 1 to 128 printable characters, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** An id for a URL path (`tasks show ID`): non-empty, no spaces; returned percent-encoded. */
export function parseIdArgument(name: string, raw: string): string {
  // A pasted secret must not travel in a URL path, where access logs keep it.
  if (/^(swt_|swb_)/.test(raw)) {
    throw new ValidationError(name, 'that is a token secret, not an id; find the id with `spillway token list`');
  }
  if (!/^[^\s\p{Cc}]{1,200}$/u.test(raw)) {
    throw new ValidationError(name, `expected an id such as t-0b6f..., got ${JSON.stringify(raw)}`);
  }
  return encodeURIComponent(raw);
}
