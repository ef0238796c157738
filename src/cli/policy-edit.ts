import { policySchema } from '../config/schema.ts';
import { parseWith } from '../config/validate.ts';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ValidationError, errorMessage } from '../core/errors.ts';
import type { Policy } from '../core/policy.ts';
import type { CliContext } from './context.ts';
import { parseAssignment, setPath } from './dotted-keys.ts';

/** `policy set KEY=VALUE...` and `policy apply`: the edited or read policy must validate as a whole before it is sent. */

/** Applies every assignment in order, then validates the result as a whole policy. */
export function editPolicy(policy: Policy, texts: readonly string[]): Policy {
  if (texts.length === 0)
    throw new ValidationError('KEY=VALUE', 'give at least one assignment, such as spot.allowed=false');
  const assignments = texts.map(parseAssignment);
  let doc: unknown = policy;
  for (const assignment of assignments) doc = setPath(doc, assignment);
  try {
    return validatePolicy(doc);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    // Name the assignment that made the field wrong, with the value as typed.
    const cause = assignments.findLast((a) => err.field === a.key || err.field.startsWith(`${a.key}.`));
    if (!cause) throw err;
    const problem = err.message.slice(err.field.length + 2);
    throw new ValidationError(err.field, `${problem} (from ${cause.key}=${cause.raw})`);
  }
}

/** A whole policy, as `PUT /v1/policy` takes it; errors name the dotted field. */
export function validatePolicy(input: unknown): Policy {
  return parseWith(policySchema, input);
}

/** Reads a whole policy from YAML or JSON (`-` is stdin) and validates it; errors name the file and the field. */
export function readPolicyFile(file: string, ctx: Pick<CliContext, 'cwd'>): Policy {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(resolve(ctx.cwd, file), 'utf8');
  } catch (err) {
    throw new ValidationError('-f', `cannot read ${JSON.stringify(file)}: ${errorMessage(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ValidationError('-f', `${file} is neither YAML nor JSON: ${errorMessage(err)}`);
  }
  try {
    return validatePolicy(doc ?? {});
  } catch (err) {
    if (err instanceof ValidationError)
      throw new ValidationError(`${file}: ${err.field}`, err.message.slice(err.field.length + 2));
    throw err;
  }
}
