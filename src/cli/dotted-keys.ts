import { ValidationError } from '../core/errors.ts';

/**
 * Dotted keys (`limits.maxInstances`) over plain JSON objects, pure: what `policy set` edits and `policy get`
 * prints. Whole-policy validation is in policy-edit.ts.
 */

export interface Assignment {
  /** The dotted key as typed, for messages. */
  readonly key: string;
  readonly path: readonly string[];
  readonly raw: string;
}

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** `limits.maxInstances=4` -> { key, path: ['limits', 'maxInstances'], raw: '4' }. */
export function parseAssignment(text: string): Assignment {
  const eq = text.indexOf('=');
  if (eq <= 0) {
    throw new ValidationError(
      'KEY=VALUE',
      `expected a dotted key, = and a value (limits.maxInstances=4), got ${JSON.stringify(text)}`,
    );
  }
  const key = text.slice(0, eq).trim();
  const path = key.split('.');
  if (path.some((segment) => segment === '' || FORBIDDEN_SEGMENTS.has(segment))) {
    throw new ValidationError('KEY=VALUE', `${JSON.stringify(key)} is not a dotted key such as limits.maxInstances`);
  }
  return { key, path, raw: text.slice(eq + 1) };
}

/**
 * A value as typed: JSON when it parses (`4`, `false`, `["us-east-1"]`, `"8"` for the string 8), otherwise the
 * text itself. Where the field holds a list, text that is not JSON is read as a comma-separated list
 * (`regions=us-east-1,eu-west-1`; an empty value is the empty list).
 */
export function parseValue(raw: string, current: unknown): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    if (Array.isArray(current)) return raw.trim() === '' ? [] : raw.split(',').map((item) => item.trim());
    return raw;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns a copy of `doc` with the value at `path` replaced; missing objects on the way are created. */
export function setPath(doc: unknown, assignment: Assignment): Record<string, unknown> {
  const root: Record<string, unknown> = isPlainObject(doc) ? { ...doc } : {};
  let node = root;
  assignment.path.forEach((segment, i) => {
    const last = i === assignment.path.length - 1;
    const existing = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (last) {
      node[segment] = parseValue(assignment.raw, existing);
      return;
    }
    if (existing !== undefined && !isPlainObject(existing)) {
      const prefix = assignment.path.slice(0, i + 1).join('.');
      throw new ValidationError(
        assignment.key,
        `${prefix} holds ${JSON.stringify(existing)}, not an object with fields`,
      );
    }
    const child: Record<string, unknown> = { ...(existing ?? {}) };
    node[segment] = child;
    node = child;
  });
  return root;
}

/** Every leaf as a dotted key and its value; lists and empty objects are leaves. */
export function flattenDotted(value: unknown, prefix = ''): [string, unknown][] {
  if (!isPlainObject(value) || (Object.keys(value).length === 0 && prefix !== '')) return [[prefix, value]];
  return Object.entries(value).flatMap(([key, child]) => flattenDotted(child, prefix ? `${prefix}.${key}` : key));
}

/** The dotted keys whose values differ, with before and after. */
export function diffDotted(before: unknown, after: unknown): { key: string; before: unknown; after: unknown }[] {
  const old = new Map(flattenDotted(before).map(([k, v]) => [k, JSON.stringify(v)]));
  const now = new Map(flattenDotted(after).map(([k, v]) => [k, JSON.stringify(v)]));
  const keys = [...new Set([...old.keys(), ...now.keys()])].sort();
  return keys
    .filter((key) => old.get(key) !== now.get(key))
    .map((key) => ({ key, before: parseOrUndefined(old.get(key)), after: parseOrUndefined(now.get(key)) }));
}

function parseOrUndefined(json: string | undefined): unknown {
  return json === undefined ? undefined : JSON.parse(json);
}
