import { join } from 'node:path';
import { formatMemory } from '../../core/resources.ts';
import { signalPids } from './cgroup-files.ts';
import type { Isolation, SpawnPlan, TaskSandbox, TaskSandboxRequest, TaskUsage } from './isolation.ts';
import type { CgroupDriver, TaskCgroup } from './task-cgroup.ts';
import { isolatedTaskEnv } from './task-env.ts';
import { TaskFolders } from './task-folders.ts';
import { UidLeases } from './uid-leases.ts';
import type { UidRange } from './uid-range.ts';
import type { MetadataFirewall } from './metadata-firewall.ts';
import { removeUidLeftovers, SHARED_TEMP_DIRS } from './uid-leftovers.ts';

export interface CgroupIsolationOptions {
  readonly driver: CgroupDriver;
  readonly uids: UidRange;
  readonly pidsLimit: number;
  /** Where task folders live; every task uid must be able to reach it (not under a 0700 folder). */
  readonly folderRoot: string;
  /** How long a task's folder is kept after the task ended. */
  readonly keepFolderMs: number;
  /** Where uid leases are kept, shared by every agent of the machine. */
  readonly leaseDir: string;
  /** Keeps task uids away from the metadata service; none when the packet filter cannot be used. */
  readonly firewall?: MetadataFirewall;
  /** Folders every uid may write in, cleared of a task uid's entries before the uid is leased again. */
  readonly sharedTempDirs?: readonly string[];
}

/**
 * Isolation as root: each task gets a uid (and the same gid) of its own from the range, a fresh 0700 folder owned by
 * it, a minimal environment, and a cgroup of its own holding what it asked for.
 */
export class CgroupIsolation implements Isolation {
  readonly mode: CgroupDriver['mode'];
  readonly #opts: CgroupIsolationOptions;
  readonly #leases: UidLeases;
  readonly #folders: TaskFolders;

  constructor(opts: CgroupIsolationOptions) {
    this.mode = opts.driver.mode;
    this.#opts = opts;
    this.#leases = new UidLeases(opts.leaseDir, opts.uids);
    this.#folders = new TaskFolders(opts.folderRoot, opts.keepFolderMs);
  }

  prepare(request: TaskSandboxRequest): TaskSandbox {
    const uid = this.#leases.acquire();
    let folder: string | undefined;
    const firewall = request.metadataAccess ? this.#opts.firewall : undefined;
    try {
      firewall?.allow(uid);
      folder = this.#folders.create(request.taskId, uid, uid);
      const cgroup = this.#opts.driver.create(`spillway-task-${uid}`, request.resources, this.#opts.pidsLimit);
      const selfAttach = cgroup.delegateAttach(uid);
      const spawn: SpawnPlan = {
        uid,
        gid: uid,
        cwd: folder,
        env: isolatedTaskEnv({ taskId: request.taskId, home: folder, specEnv: request.env, gpuIndexes: request.gpuIndexes }),
        gated: selfAttach.length === 0,
        selfAttach,
      };
      return new CgroupSandbox(spawn, cgroup, request.resources.memoryMiB, () => {
        firewall?.forbid(uid);
        removeUidLeftovers(uid, this.#opts.sharedTempDirs ?? SHARED_TEMP_DIRS);
        this.#leases.release(uid);
        this.#folders.removeLater(folder!);
      });
    } catch (err) {
      if (folder !== undefined) this.#folders.removeLater(folder);
      firewall?.forbid(uid);
      this.#leases.release(uid);
      throw err;
    }
  }

  close(): void {
    this.#folders.close();
    this.#opts.firewall?.remove();
  }
}

class CgroupSandbox implements TaskSandbox {
  readonly spawn: SpawnPlan;
  readonly #cgroup: TaskCgroup;
  readonly #memoryMiB: number;
  readonly #free: () => void;
  #released = false;
  #finalUsage: TaskUsage | undefined;
  #finalOomKills: number | undefined;

  constructor(spawn: SpawnPlan, cgroup: TaskCgroup, memoryMiB: number, free: () => void) {
    this.spawn = spawn;
    this.#cgroup = cgroup;
    this.#memoryMiB = memoryMiB;
    this.#free = free;
  }

  attach(pid: number): void {
    this.#cgroup.attach(pid);
  }

  killAll(pgid: number | undefined): void {
    this.#cgroup.killEverything();
    // A first process that has not joined its cgroup yet is still in its own process group.
    if (pgid !== undefined) signalPids([-pgid], 'SIGKILL');
  }

  signal(_pgid: number | undefined, signal: NodeJS.Signals): void {
    signalPids(this.#cgroup.pids(), signal);
  }

  usage(): TaskUsage {
    return this.#finalUsage ?? this.#cgroup.usage();
  }

  outOfMemoryReason(): string | undefined {
    if (this.#memoryMiB <= 0 || (this.#finalOomKills ?? this.#cgroup.oomKills()) === 0) return undefined;
    return `out of memory: exceeded its ${formatMemory(this.#memoryMiB)} limit`;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#finalUsage = this.#cgroup.usage();
    this.#finalOomKills = this.#cgroup.oomKills();
    this.#cgroup.killEverything();
    // The uid goes back to the range only once its cgroup is gone (see TaskCgroup.remove).
    this.#cgroup.remove(() => this.#free());
  }
}

/** Where task folders go by default: reachable by every uid, unlike a user's clone or /root. */
export const DEFAULT_TASK_FOLDER_ROOT = '/var/lib/spillway/tasks';
/** Where uid leases go by default: shared by the agents of one machine, gone at reboot. */
export const DEFAULT_LEASE_DIR = join('/run', 'spillway', 'task-uids');
