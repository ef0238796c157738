import { readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolationError } from './isolation-error.ts';

/** Writes one cgroup control file; an IsolationError names the file and the value. */
export function writeControl(dir: string, file: string, value: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (err) {
    throw new IsolationError(`writing ${value} to ${join(dir, file)}`, { cause: err });
  }
}

/** Reads one cgroup control file, trimmed; undefined when it cannot be read (the cgroup is gone). */
export function readControl(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The pids in a cgroup's `cgroup.procs`. */
export function cgroupPids(dir: string): number[] {
  const text = readControl(dir, 'cgroup.procs') ?? '';
  return text === '' ? [] : text.split('\n').map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
}

export function signalPids(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Exited meanwhile.
    }
  }
}

/** Removes an empty cgroup; false when it still holds processes (EBUSY). Gone already counts as removed. */
export function removeCgroup(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Blocks the thread for `ms`: the kill path must stay synchronous to run in an `exit` handler. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Retries removing cgroups whose last processes are still exiting, for a few seconds, in the background. */
export function removeCgroupsEventually(dirs: readonly string[], done?: () => void, attemptsLeft = 50): void {
  const left = dirs.filter((dir) => !removeCgroup(dir));
  if (left.length === 0 || attemptsLeft <= 0) {
    done?.();
    return;
  }
  setTimeout(() => removeCgroupsEventually(left, done, attemptsLeft - 1), 100).unref();
}
