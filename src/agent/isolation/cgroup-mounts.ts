import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One line of /proc/self/mountinfo that mounts a cgroup hierarchy. */
export interface CgroupMount {
  /** Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory`. */
  readonly mountPoint: string;
  /** Which part of the hierarchy the mount shows (`/` outside containers). */
  readonly root: string;
  /** `cgroup2`, or `cgroup` (v1). */
  readonly fsType: 'cgroup' | 'cgroup2';
  /** v1: the controllers of the hierarchy (`memory`, `cpu`...); v2: empty. */
  readonly controllers: readonly string[];
}

/** Reads the cgroup mounts from mountinfo text (`/proc/self/mountinfo`). */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const fields = before.split(' ');
    const [fsType, , superOptions = ''] = after.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const root = unescape(fields[3] ?? '/');
    const mountPoint = unescape(fields[4] ?? '');
    const controllers = fsType === 'cgroup' ? superOptions.split(',').filter((o) => !KNOWN_OPTIONS.has(o)) : [];
    mounts.push({ mountPoint, root, fsType, controllers });
  }
  return mounts;
}

/** Reads `/proc/self/cgroup` text into controller (v1) or `''` (v2) -> the process's cgroup path. */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    for (const controller of match[1]!.split(',')) paths.set(controller, match[2]!);
  }
  return paths;
}

/** The folder of this process's own cgroup in a mounted hierarchy. */
export function ownCgroupDir(mount: CgroupMount, procPath: string): string {
  const rel = mount.root !== '/' && procPath.startsWith(mount.root) ? procPath.slice(mount.root.length) : procPath;
  return join(mount.mountPoint, rel);
}

export function readMounts(): CgroupMount[] {
  return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}

export function readOwnCgroups(): Map<string, string> {
  return parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
}

/** Mount options that are not controller names. */
const KNOWN_OPTIONS = new Set(['rw', 'ro', 'relatime', 'noexec', 'nosuid', 'nodev', 'xattr', 'clone_children']);

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
