import { SpillwayError } from '../../core/errors.ts';
import type { Resources } from '../../core/resources.ts';
import type { Row } from './sqlite-db.ts';

/**
 * Typed reads of one column. A column of the wrong type means the file was written by something other than this
 * schema, so it throws rather than guessing.
 */
export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw badColumn(column, value, 'text');
  return value;
}

export function textOrNull(row: Row, column: string): string | null {
  return row[column] === null ? null : text(row, column);
}

export function int(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw badColumn(column, value, 'a number');
}

export function intOrNull(row: Row, column: string): number | null {
  return row[column] === null ? null : int(row, column);
}

export function bool(row: Row, column: string): boolean {
  return int(row, column) !== 0;
}

/** A JSON column; the schema writes only values of type T into it. */
export function json<T>(row: Row, column: string): T {
  return JSON.parse(text(row, column)) as T;
}

/** The four resource columns, optionally prefixed (`alloc_cpu_millis`). */
export function resourcesOf(row: Row, prefix = ''): Resources {
  return {
    cpuMillis: int(row, `${prefix}cpu_millis`),
    memoryMiB: int(row, `${prefix}memory_mib`),
    gpus: int(row, `${prefix}gpus`),
    netMbps: int(row, `${prefix}net_mbps`),
  };
}

/** Binds an optional list to a `value IN (SELECT value FROM json_each(?))` parameter; null means "no filter". */
export function jsonList(values: readonly string[] | undefined): string | null {
  return values === undefined ? null : JSON.stringify(values);
}

function badColumn(column: string, value: unknown, expected: string): SpillwayError {
  return new SpillwayError(`reading column ${column}: expected ${expected}, found ${typeof value}`);
}
