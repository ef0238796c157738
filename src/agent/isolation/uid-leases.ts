import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { IsolationError } from './isolation-error.ts';
import type { UidRange } from './uid-range.ts';
import { uidRunsProcess } from './uid-processes.ts';

/**
 * Hands out uids from a range to running tasks, one task per uid across every agent of the machine: a lease is a
 * file `<dir>/<uid>` created exclusively and holding the agent's pid. A lease whose agent process is gone (it
 * crashed) is taken over, but only once no process runs as its uid any more: a crashed agent's task may live on
 * (outside any cgroup this agent would clean), and a new task given its uid could signal or trace it. Two tasks never
 * share a uid, so they can neither signal nor trace one another.
 */
export class UidLeases {
  readonly #dir: string;
  readonly #range: UidRange;
  #next: number;

  constructor(dir: string, range: UidRange) {
    this.#dir = dir;
    this.#range = range;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Agents start their search at different places so they rarely contend for the same file.
    this.#next = range.first + (process.pid % (range.last - range.first + 1));
  }

  /** Leases a free uid. Throws a retryable IsolationError when every uid of the range is in use. */
  acquire(): number {
    const size = this.#range.last - this.#range.first + 1;
    for (let i = 0; i < size; i++) {
      const uid = this.#next;
      this.#next = uid >= this.#range.last ? this.#range.first : uid + 1;
      if (this.#tryLease(uid)) return uid;
    }
    throw new IsolationError(
      `leasing a task uid: every uid of ${this.#range.first}-${this.#range.last} runs a task`,
      { retryable: true },
    );
  }

  /** Returns a uid to the range. Idempotent. */
  release(uid: number): void {
    try {
      unlinkSync(this.#path(uid));
    } catch {
      // Already released.
    }
  }

  #tryLease(uid: number): boolean {
    const path = this.#path(uid);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new IsolationError(`leasing uid ${uid}`, { cause: err });
      }
      if (!this.#stale(uid)) return false;
      try {
        unlinkSync(path);
      } catch {
        // Another agent took it over first.
      }
    }
    return false;
  }

  #stale(uid: number): boolean {
    let holder: number;
    try {
      holder = Number(readFileSync(this.#path(uid), 'utf8'));
    } catch {
      return false;
    }
    // A lease being written has no pid yet: not stale.
    if (!Number.isInteger(holder) || holder <= 0) return false;
    try {
      process.kill(holder, 0);
      return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return false;
    }
    // The agent is gone; its task may not be.
    return !uidRunsProcess(uid);
  }

  #path(uid: number): string {
    return join(this.#dir, String(uid));
  }
}
