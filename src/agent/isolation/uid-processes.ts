import { readdirSync, readFileSync } from 'node:fs';

/**
 * Whether any live process has `uid` as its real, effective, saved or filesystem uid, read from `/proc/<pid>/status`
 * (root reads it even for a process that made itself non-dumpable, unlike the owner of `/proc/<pid>`). A process that
 * exits while being read, or is a zombie, counts as gone.
 */
export function uidRunsProcess(uid: number, procDir = '/proc'): boolean {
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return false;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = readFileSync(`${procDir}/${entry}/status`, 'utf8');
    } catch {
      continue;
    }
    if (/^State:\s+Z/m.test(status)) continue;
    const line = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m.exec(status);
    if (line !== null && line.slice(1).some((id) => Number(id) === uid)) return true;
  }
  return false;
}
