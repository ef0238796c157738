import { readdir, readFile } from 'node:fs/promises';

/** What /proc/<pid>/stat says about a process (Linux). */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** Process group id. */
  readonly pgrp: number;
  /** One letter: R, S, D, Z (zombie), X (dead), ... */
  readonly state: string;
  /** Clock ticks after boot when it started (field 22): with the pid, it names one process for good. */
  readonly startTime: number;
}

/** Reads /proc/<pid>/stat; undefined when the process does not exist (or /proc cannot tell). */
export async function readProcessInfo(pid: number): Promise<ProcessInfo | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgrp = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isFinite(startTime)) return undefined;
  return { pid, ppid, pgrp, state, startTime };
}

/** The start time of a live process, to record beside its pid; undefined when it is gone. */
export async function readStartTime(pid: number): Promise<number | undefined> {
  return (await readProcessInfo(pid))?.startTime;
}

/** True while the process `pid` that started at `startTime` runs: a reused pid or a zombie does not count. */
export async function isAlive(pid: number, startTime: number): Promise<boolean> {
  const info = await readProcessInfo(pid);
  return info !== undefined && info.startTime === startTime && !isDead(info);
}

/** Every live process (not a zombie). */
export async function listProcesses(): Promise<ProcessInfo[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const infos = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readProcessInfo(Number(e))));
  return infos.filter((info): info is ProcessInfo => info !== undefined && !isDead(info));
}

/**
 * Live processes whose initial environment holds `name=value`, or whose process group is `pgid`. A process inherits
 * its parent's environment, so the variable finds everything an instance started, even processes that left its
 * process group or lost their parent.
 */
export async function findProcesses(tag: { name: string; value: string }, pgid?: number): Promise<ProcessInfo[]> {
  const wanted = `${tag.name}=${tag.value}`;
  const found: ProcessInfo[] = [];
  for (const info of await listProcesses()) {
    if (pgid !== undefined && info.pgrp === pgid) {
      found.push(info);
      continue;
    }
    let environ: string;
    try {
      environ = await readFile(`/proc/${info.pid}/environ`, 'latin1');
    } catch {
      continue; // gone meanwhile, or another user's
    }
    if (environ.split('\0').includes(wanted)) found.push(info);
  }
  return found;
}

/** Sends `signal` to a process group; a group that is gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH
  }
}

/** Sends `signal` to one process; a process that is gone is not an error. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH
  }
}

function isDead(info: ProcessInfo): boolean {
  return info.state === 'Z' || info.state === 'X';
}
