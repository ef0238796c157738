import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SpillwayError } from '../core/errors.ts';
import type { Logger } from '../log/logger.ts';

/** The controller cannot make a file it owns private (another user owns it, or the file system refuses). */
export class PrivateFileError extends SpillwayError {
  override readonly name = 'PrivateFileError';
  readonly path: string;
  readonly mode: number;

  constructor(path: string, mode: number, cause: unknown) {
    super(
      `making ${path} private: it is mode ${formatMode(mode)}, open to other users, and cannot be changed ` +
        `(${cause instanceof Error ? cause.message : String(cause)}); fix its owner or mode, or move it`,
      { cause },
    );
    this.path = path;
    this.mode = mode;
  }
}

/**
 * Makes what the controller keeps private to its user: the home folder 0700 and everything in it without group or
 * other bits (files 0600), and the SQLite store with its `-wal`, `-shm` and backups wherever `store.path` points (a
 * store folder it creates is 0700). Modes an older version left open are tightened and logged once, in one line. A
 * path it cannot tighten stops the start with a PrivateFileError naming the path and its mode.
 */
export function makePrivate(opts: {
  readonly home: string;
  /** The SQLite store's file; undefined when the store is a server (PostgreSQL). */
  readonly storePath: string | undefined;
  readonly logger: Logger;
}): void {
  const tightened: string[] = [];
  mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  tightenTree(opts.home, tightened);
  if (opts.storePath !== undefined && opts.storePath !== ':memory:') {
    const folder = dirname(opts.storePath);
    if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: 0o700 });
    const name = basename(opts.storePath);
    for (const entry of readdirSync(folder)) {
      if (entry === name || entry.startsWith(`${name}-`) || entry.startsWith(`${name}.bak`)) {
        tighten(join(folder, entry), tightened);
      }
    }
  }
  if (tightened.length > 0) {
    opts.logger.warn('tightened file modes an older version left open to other users', { paths: tightened });
  }
}

function tightenTree(path: string, tightened: string[]): void {
  tighten(path, tightened);
  if (!lstatSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) tightenTree(join(path, entry), tightened);
}

/** Clears the group and other bits of one path (symlinks are left alone: their mode means nothing). */
function tighten(path: string, tightened: string[]): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink() || (stat.mode & 0o077) === 0) return;
  try {
    chmodSync(path, stat.mode & 0o700);
  } catch (err) {
    throw new PrivateFileError(path, stat.mode & 0o7777, err);
  }
  if (tightened.length < 100 && !tightened.includes(path)) tightened.push(path);
}

function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}
