import type { Logger } from '../../log/logger.ts';
import { CgroupIsolation, DEFAULT_LEASE_DIR, DEFAULT_TASK_FOLDER_ROOT } from './cgroup-isolation.ts';
import { CgroupV1Driver } from './cgroup-v1.ts';
import { CgroupV2Driver } from './cgroup-v2.ts';
import type { Isolation } from './isolation.ts';
import { MetadataFirewall, metadataEndpoints } from './metadata-firewall.ts';
import { NoIsolation } from './no-isolation.ts';
import { DEFAULT_TASK_UIDS, type UidRange } from './uid-range.ts';

export interface IsolationSettings {
  /** The uids (and gids) tasks run as; default 61000-61999. */
  readonly taskUids?: UidRange;
  /** At most this many processes per task; default 4096. */
  readonly pidsLimit?: number;
  /** Default /var/lib/spillway/tasks. */
  readonly folderRoot?: string;
  /** How long a task's folder is kept after it ended; default 10 min. */
  readonly keepFolderMs?: number;
  /** Default /run/spillway/task-uids. */
  readonly leaseDir?: string;
  /** The metadata service the agent's watcher uses, blocked for task uids beside the clouds' fixed addresses. */
  readonly metadataUrl?: string;
  /** The agent's environment, passed on (minus credentials) only without isolation. */
  readonly env?: NodeJS.ProcessEnv;
}

export const DEFAULT_PIDS_LIMIT = 4_096;
export const DEFAULT_KEEP_FOLDER_MS = 600_000;

/**
 * The isolation this machine allows: cgroup v2 when `/sys/fs/cgroup` itself is cgroup2 with memory, cpu and pids;
 * else v1 when cpu, cpuacct, memory, pids and freezer are mounted; both only as root. Otherwise none, said once in the
 * log with the reason.
 */
export function createIsolation(settings: IsolationSettings, logger: Logger): Isolation {
  const none = (why: string): Isolation => {
    logger.warn('running tasks without isolation', { reason: why, isolation: 'none' });
    return new NoIsolation(settings.env);
  };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return none('the agent is not root, so tasks run as its user and can read its memory, environment and files');
  }
  const driver = CgroupV2Driver.detect() ?? CgroupV1Driver.detect();
  if (!driver) return none('no usable cgroup v2 or v1 (cpu, cpuacct, memory, pids, freezer) hierarchy is mounted');
  const taskUids = settings.taskUids ?? DEFAULT_TASK_UIDS;
  const firewall = new MetadataFirewall({ endpoints: metadataEndpoints(settings.metadataUrl), taskUids, logger });
  const isolation = new CgroupIsolation({
    driver,
    firewall: firewall.install() ? firewall : undefined,
    uids: taskUids,
    pidsLimit: settings.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    folderRoot: settings.folderRoot ?? DEFAULT_TASK_FOLDER_ROOT,
    keepFolderMs: settings.keepFolderMs ?? DEFAULT_KEEP_FOLDER_MS,
    leaseDir: settings.leaseDir ?? DEFAULT_LEASE_DIR,
  });
  logger.info('isolating tasks', { isolation: driver.mode, taskUids: settings.taskUids ?? DEFAULT_TASK_UIDS });
  return isolation;
}
