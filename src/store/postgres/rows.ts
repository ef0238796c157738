import type { Resources } from '../../core/resources.ts';
import * as sqliteRows from '../sqlite/rows.ts';
import type { Row } from '../sqlite/sqlite-db.ts';
import type { PgRow } from './pg-db.ts';

/**
 * Typed reads of one column of a PostgreSQL row. The schema keeps SQLite's value shapes (BIGINT read as numbers,
 * JSON as text), so these are SQLite's readers; only booleans differ.
 */
export const text = (row: PgRow, column: string): string => sqliteRows.text(row as Row, column);
export const textOrNull = (row: PgRow, column: string): string | null => sqliteRows.textOrNull(row as Row, column);
export const int = (row: PgRow, column: string): number => sqliteRows.int(row as Row, column);
export const intOrNull = (row: PgRow, column: string): number | null => sqliteRows.intOrNull(row as Row, column);
export const json = <T>(row: PgRow, column: string): T => sqliteRows.json<T>(row as Row, column);
export const resourcesOf = (row: PgRow, prefix = ''): Resources => sqliteRows.resourcesOf(row as Row, prefix);

/** A DOUBLE PRECISION column. */
export function real(row: PgRow, column: string): number {
  const value = row[column];
  if (typeof value !== 'number')
    throw new TypeError(`reading column ${column}: expected a number, found ${typeof value}`);
  return value;
}

export function bool(row: PgRow, column: string): boolean {
  const value = row[column];
  if (typeof value !== 'boolean')
    throw new TypeError(`reading column ${column}: expected a boolean, found ${typeof value}`);
  return value;
}
