import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { ProviderError } from '../../core/errors.ts';
import { findProcesses, readStartTime, type ProcessInfo } from './process-table.ts';

/** Every process of a local instance inherits this variable: it tags the instance's processes like a cgroup would. */
export const INSTANCE_ID_ENV = 'SPILLWAY_INSTANCE_ID';

/** Carries the rendered boot script to sh without putting it (and the credential in it) on a command line. */
const BOOT_SCRIPT_ENV = 'SPILLWAY_BOOT_SCRIPT';

/** sh's whole command line: the script comes from the environment and is unset before anything else runs. */
const BOOT_TRAMPOLINE = `script=$${BOOT_SCRIPT_ENV}; unset ${BOOT_SCRIPT_ENV}; eval "$script"`;

/** The process that is a local instance. */
export interface InstanceProcess {
  readonly pid: number;
  /** null when it was gone before its start time could be read: the instance died at once. */
  readonly startTime: number | null;
}

/**
 * Starts a local instance: `sh` running `script`, detached in its own session and process group, its output
 * appended to `logPath`, and not waited for, so it outlives this process as a cloud instance outlives the
 * controller. Its environment is the instance id, PATH and the script; nothing else of this process leaks in.
 * Throws a non-retryable ProviderError when sh cannot start.
 */
export async function spawnInstanceProcess(opts: {
  readonly instanceId: string;
  readonly script: string;
  readonly logPath: string;
  /** The instance's signed identity document, for its agent (as a cloud's metadata service would serve it). */
  readonly identity?: { readonly document: string; readonly signature: string };
}): Promise<InstanceProcess> {
  const logFd = openSync(opts.logPath, 'a', 0o600);
  let pid: number | undefined;
  try {
    const child = spawn('sh', ['-c', BOOT_TRAMPOLINE], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        [INSTANCE_ID_ENV]: opts.instanceId,
        [BOOT_SCRIPT_ENV]: opts.script,
        ...(opts.identity
          ? { SPILLWAY_IDENTITY_DOCUMENT: opts.identity.document, SPILLWAY_IDENTITY_SIGNATURE: opts.identity.signature }
          : {}),
      },
    });
    child.on('error', () => undefined); // reported through the missing pid below
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(logFd);
  }
  if (pid === undefined) {
    throw new ProviderError(`starting instance ${opts.instanceId}: could not start sh`);
  }
  return { pid, startTime: (await readStartTime(pid)) ?? null };
}

/**
 * The boot process of an instance a crashed launch may have started before recording it: the live session leader
 * tagged with the instance id. Undefined when there is none.
 */
export async function findBootProcess(instanceId: string): Promise<ProcessInfo | undefined> {
  const tagged = await findProcesses({ name: INSTANCE_ID_ENV, value: instanceId });
  return tagged.find((p) => p.pgrp === p.pid && !tagged.some((q) => q.pid === p.ppid));
}

/**
 * Every live process of an instance: those tagged with its id, and when its boot process was verified alive, the
 * members of its process group.
 */
export function instanceProcesses(instanceId: string, verifiedGroup: number | undefined): Promise<ProcessInfo[]> {
  return findProcesses({ name: INSTANCE_ID_ENV, value: instanceId }, verifiedGroup);
}
