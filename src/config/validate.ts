import type { z } from 'zod';
import { ValidationError } from '../core/errors.ts';

/**
 * Parses `input` with a zod schema, or throws a ValidationError naming the first bad field as a dotted path under
 * `root` and saying what is wrong with it.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, root = ''): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ValidationError(root, 'is invalid');
  const segments = [root, ...issue.path.map(String)].filter((s) => s !== '');
  let field = segments.join('.');
  let problem = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    field = [...segments, keys[0]].join('.');
    problem = `unknown field${keys.length > 1 ? `s ${keys.join(', ')}` : ''}`;
  }
  throw new ValidationError(field || '(body)', problem);
}
