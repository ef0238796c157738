import { readdirSync, readFileSync } from 'node:fs';

/** Pids of live processes whose command line contains `needle` (read from /proc). */
export function pidsMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Kills every listed process (and its group) that is still alive. For cleanup after a failed test. */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

/** For live processes whose command line contains `needle`: the value of env `name` -> their pids. */
export function pidsByEnv(name: string, needle: string): Map<string, number[]> {
  const byValue = new Map<string, number[]>();
  for (const pid of pidsMatching(needle)) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const entry = environ.find((e) => e.startsWith(`${name}=`));
      if (!entry) continue;
      const value = entry.slice(name.length + 1);
      byValue.set(value, [...(byValue.get(value) ?? []), pid]);
    } catch {
      // The process ended while we looked.
    }
  }
  return byValue;
}
