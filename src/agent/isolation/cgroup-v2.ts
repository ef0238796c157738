import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '../../core/resources.ts';
import { ownCgroupDir, readMounts, readOwnCgroups, type CgroupMount } from './cgroup-mounts.ts';
import { cgroupPids, readControl, removeCgroupsEventually, sleepSync, writeControl } from './cgroup-files.ts';
import { IsolationError } from './isolation-error.ts';
import type { TaskUsage } from './isolation.ts';
import { CPU_PERIOD_US, cpuQuotaUs, type CgroupDriver, type TaskCgroup } from './task-cgroup.ts';

const NEEDED = ['memory', 'cpu', 'pids'] as const;

/**
 * Task cgroups on the unified hierarchy (cgroup v2), written to the kernel's documented interface
 * (Documentation/admin-guide/cgroup-v2.rst). A cgroup with processes cannot hand controllers to children, so the
 * agent first moves itself into a leaf `agent` beside its tasks' cgroups.
 */
export class CgroupV2Driver implements CgroupDriver {
  readonly mode = 'cgroup-v2' as const;
  readonly #parent: string;

  constructor(parent: string) {
    this.#parent = parent;
  }

  /** Only when `/sys/fs/cgroup` itself is cgroup2 with memory, cpu and pids available to the agent's cgroup. */
  static detect(mounts: readonly CgroupMount[] = readMounts(), own = readOwnCgroups()): CgroupV2Driver | undefined {
    const mount = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === '/sys/fs/cgroup');
    const path = own.get('');
    if (!mount || path === undefined) return undefined;
    const parent = ownCgroupDir(mount, path);
    const available = (readControl(parent, 'cgroup.controllers') ?? '').split(' ');
    if (!NEEDED.every((c) => available.includes(c))) return undefined;
    return new CgroupV2Driver(parent);
  }

  #delegated = false;

  /** Moves the agent into `<own>/agent` and enables the controllers for its children. */
  #delegate(): void {
    if (this.#delegated) return;
    const leaf = join(this.#parent, 'agent');
    mkdirSync(leaf, { recursive: true });
    for (const pid of cgroupPids(this.#parent)) {
      try {
        writeControl(leaf, 'cgroup.procs', String(pid));
      } catch {
        // Exited meanwhile.
      }
    }
    writeControl(this.#parent, 'cgroup.subtree_control', NEEDED.map((c) => `+${c}`).join(' '));
    this.#delegated = true;
  }

  create(name: string, resources: Resources, pidsLimit: number): TaskCgroup {
    this.#delegate();
    const dir = join(this.#parent, name);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new IsolationError(`creating the cgroup ${dir}`, { cause: err });
    }
    const group = new CgroupV2(dir);
    group.killEverything();
    writeControl(dir, 'memory.max', resources.memoryMiB > 0 ? String(resources.memoryMiB * 1_048_576) : 'max');
    writeControl(dir, 'memory.swap.max', '0');
    const quota = resources.cpuMillis > 0 ? String(cpuQuotaUs(resources.cpuMillis)) : 'max';
    writeControl(dir, 'cpu.max', `${quota} ${CPU_PERIOD_US}`);
    writeControl(dir, 'pids.max', String(pidsLimit));
    return group;
  }
}

class CgroupV2 implements TaskCgroup {
  readonly #dir: string;
  readonly #oomKillsAtStart: number;
  readonly #cpuUsecAtStart: number;

  constructor(dir: string) {
    this.#dir = dir;
    this.#oomKillsAtStart = this.#stat('memory.events', 'oom_kill');
    this.#cpuUsecAtStart = this.#stat('cpu.stat', 'usage_usec');
  }

  attach(pid: number): void {
    writeControl(this.#dir, 'cgroup.procs', String(pid));
  }

  delegateAttach(): string[] {
    return [];
  }

  pids(): number[] {
    return cgroupPids(this.#dir);
  }

  freeze(): void {
    writeControl(this.#dir, 'cgroup.freeze', '1');
    for (let i = 0; i < 1_000 && !/^frozen 1$/m.test(readControl(this.#dir, 'cgroup.events') ?? ''); i++) sleepSync(1);
  }

  thaw(): void {
    try {
      writeControl(this.#dir, 'cgroup.freeze', '0');
    } catch {
      // Removed meanwhile.
    }
  }

  /** `cgroup.kill` (Linux 5.14) kills every member at once; older kernels freeze, kill and thaw. */
  killEverything(): void {
    if (this.pids().length === 0) return;
    try {
      writeControl(this.#dir, 'cgroup.kill', '1');
      return;
    } catch {
      // Older kernel.
    }
    this.freeze();
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited.
      }
    }
    this.thaw();
  }

  usage(): TaskUsage {
    const peak = Number(readControl(this.#dir, 'memory.peak') ?? 0);
    return { cpuSeconds: (this.#stat('cpu.stat', 'usage_usec') - this.#cpuUsecAtStart) / 1e6, peakMemoryBytes: peak };
  }

  oomKills(): number {
    return this.#stat('memory.events', 'oom_kill') - this.#oomKillsAtStart;
  }

  remove(removed?: () => void): void {
    removeCgroupsEventually([this.#dir], removed);
  }

  #stat(file: string, key: string): number {
    const text = readControl(this.#dir, file) ?? '';
    return Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  }
}
