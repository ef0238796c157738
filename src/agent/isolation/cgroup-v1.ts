import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '../../core/resources.ts';
import { ownCgroupDir, readMounts, readOwnCgroups, type CgroupMount } from './cgroup-mounts.ts';
import { cgroupPids, readControl, removeCgroupsEventually, signalPids, sleepSync, writeControl } from './cgroup-files.ts';
import { IsolationError } from './isolation-error.ts';
import type { TaskUsage } from './isolation.ts';
import { CPU_PERIOD_US, cpuQuotaUs, type CgroupDriver, type TaskCgroup } from './task-cgroup.ts';

/** The v1 controllers a task cgroup needs. `cpu` and `cpuacct` may share one hierarchy or have one each. */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'] as const;
type V1Controller = (typeof V1_CONTROLLERS)[number];

/**
 * Task cgroups on cgroup v1: one folder per hierarchy, under the agent's own cgroup in each. The freezer stops every
 * process of a task at once so a kill reaches all of them, including those that left its process group.
 */
export class CgroupV1Driver implements CgroupDriver {
  readonly mode = 'cgroup-v1' as const;
  /** The agent's own cgroup folder in each controller's hierarchy. */
  readonly #parents: ReadonlyMap<V1Controller, string>;

  constructor(parents: ReadonlyMap<V1Controller, string>) {
    this.#parents = parents;
  }

  /** The agent's cgroups from this process's mounts; undefined when a needed v1 controller is not mounted. */
  static detect(mounts: readonly CgroupMount[] = readMounts(), own = readOwnCgroups()): CgroupV1Driver | undefined {
    const parents = new Map<V1Controller, string>();
    for (const controller of V1_CONTROLLERS) {
      const mount = mounts.find((m) => m.fsType === 'cgroup' && m.controllers.includes(controller));
      const path = own.get(controller);
      if (!mount || path === undefined) return undefined;
      parents.set(controller, ownCgroupDir(mount, path));
    }
    return new CgroupV1Driver(parents);
  }

  create(name: string, resources: Resources, pidsLimit: number): TaskCgroup {
    const dirs = new Map<V1Controller, string>();
    for (const [controller, parent] of this.#parents) {
      const dir = join(parent, name);
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new IsolationError(`creating the ${controller} cgroup ${dir}`, { cause: err });
      }
      dirs.set(controller, dir);
    }
    const group = new CgroupV1(dirs);
    // A cgroup of the same name may be left by a crashed agent: nothing of it may run on.
    group.killEverything();
    const memory = dirs.get('memory')!;
    const limit = resources.memoryMiB > 0 ? String(resources.memoryMiB * 1_048_576) : '-1';
    writeControl(memory, 'memory.limit_in_bytes', limit);
    // With swap, memory+swap must hold the same limit, or the task swaps instead of meeting it.
    if (existsSync(join(memory, 'memory.memsw.limit_in_bytes'))) {
      try {
        writeControl(memory, 'memory.memsw.limit_in_bytes', limit);
      } catch {
        // Swap accounting is off: no swap to limit.
      }
    }
    writeControl(memory, 'memory.max_usage_in_bytes', '0');
    const cpu = dirs.get('cpu')!;
    writeControl(cpu, 'cpu.cfs_period_us', String(CPU_PERIOD_US));
    writeControl(cpu, 'cpu.cfs_quota_us', resources.cpuMillis > 0 ? String(cpuQuotaUs(resources.cpuMillis)) : '-1');
    writeControl(dirs.get('pids')!, 'pids.max', String(pidsLimit));
    writeControl(dirs.get('cpuacct')!, 'cpuacct.usage', '0');
    return group;
  }
}

class CgroupV1 implements TaskCgroup {
  readonly #dirs: ReadonlyMap<V1Controller, string>;
  readonly #oomKillsAtStart: number;

  constructor(dirs: ReadonlyMap<V1Controller, string>) {
    this.#dirs = dirs;
    this.#oomKillsAtStart = this.#readOomKills();
  }

  attach(pid: number): void {
    // Freezer first: from then on a kill can reach the process whatever else fails.
    const order: V1Controller[] = ['freezer', 'pids', 'memory', 'cpu', 'cpuacct'];
    const done = new Set<string>();
    for (const controller of order) {
      const dir = this.#dirs.get(controller)!;
      if (done.has(dir)) continue;
      writeControl(dir, 'cgroup.procs', String(pid));
      done.add(dir);
    }
  }

  delegateAttach(uid: number): string[] {
    const files = [...new Set(this.#dirs.values())].map((dir) => join(dir, 'cgroup.procs'));
    for (const file of files) {
      try {
        chownSync(file, uid, uid);
      } catch (err) {
        throw new IsolationError(`letting uid ${uid} join its cgroup ${file}`, { cause: err });
      }
    }
    return files;
  }

  pids(): number[] {
    return cgroupPids(this.#dirs.get('freezer')!);
  }

  freeze(): void {
    const dir = this.#dirs.get('freezer')!;
    writeControl(dir, 'freezer.state', 'FROZEN');
    for (let i = 0; i < 1_000 && readControl(dir, 'freezer.state') === 'FREEZING'; i++) sleepSync(1);
  }

  thaw(): void {
    try {
      writeControl(this.#dirs.get('freezer')!, 'freezer.state', 'THAWED');
    } catch {
      // Removed meanwhile.
    }
  }

  /** Freezes, SIGKILLs every member, thaws so the kills are delivered. */
  killEverything(): void {
    if (this.pids().length === 0) return;
    this.freeze();
    signalPids(this.pids(), 'SIGKILL');
    this.thaw();
  }

  usage(): TaskUsage {
    const cpuNs = Number(readControl(this.#dirs.get('cpuacct')!, 'cpuacct.usage') ?? 0);
    const peak = Number(readControl(this.#dirs.get('memory')!, 'memory.max_usage_in_bytes') ?? 0);
    return { cpuSeconds: cpuNs / 1e9, peakMemoryBytes: peak };
  }

  oomKills(): number {
    return this.#readOomKills() - this.#oomKillsAtStart;
  }

  remove(removed?: () => void): void {
    removeCgroupsEventually([...new Set(this.#dirs.values())], removed);
  }

  #readOomKills(): number {
    const text = readControl(this.#dirs.get('memory')!, 'memory.oom_control') ?? '';
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
  }
}
