import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';

/** Items a list route returns when the query sets no limit. */
export const DEFAULT_PAGE_SIZE = 100;
/** The most items one page holds. */
export const MAX_PAGE_SIZE = 1_000;

/**
 * `limit` and `cursor`, the query of every list route. A page answers `next`: the cursor of the following page, or
 * null at the end. Cursors are opaque to clients (base64url of a position in the route's order) and each names its
 * list, so one list's cursor is refused by another.
 */
export const pageQuery = {
  limit: z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_PAGE_SIZE))
    .optional(),
  cursor: z.string().min(1).max(200).optional(),
};

/** Encodes a position of list `kind`. */
export function encodeCursor(kind: string, position: readonly number[]): string {
  return Buffer.from(JSON.stringify([kind, ...position]), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor of list `kind` holding `size` integers. Throws ValidationError on `query.cursor` for anything else:
 * a cursor is only ever what a previous page of the same list answered.
 */
export function decodeCursor(kind: string, cursor: string, size: number): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== size + 1 ||
    parsed[0] !== kind ||
    !parsed.slice(1).every((n) => Number.isSafeInteger(n))
  ) {
    throw new ValidationError(
      'query.cursor',
      `not a cursor of this list; pass the \`next\` of a previous page of ${kind}`,
    );
  }
  return parsed.slice(1) as number[];
}

/**
 * One page of a list kept in memory (budgets, tokens, scoped alerts: lists that stay small), in its given order. The
 * position is the index after the last item: these lists only grow at their end or are re-sorted by name, so a page
 * may at worst repeat or skip an item changed while paging, never loop.
 */
export function pageOf<T>(
  kind: string,
  items: readonly T[],
  query: { limit?: number; cursor?: string },
): { items: T[]; next: string | null } {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const [start = 0] = query.cursor === undefined ? [] : decodeCursor(kind, query.cursor, 1);
  // A forged negative index would count from the end (Array#slice) and page round in a loop.
  if (start < 0) {
    throw new ValidationError(
      'query.cursor',
      `not a cursor of this list; pass the \`next\` of a previous page of ${kind}`,
    );
  }
  const items_ = items.slice(start, start + limit);
  const end = start + items_.length;
  return { items: items_, next: end < items.length ? encodeCursor(kind, [end]) : null };
}
