import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

/** Environment variables an instance's boot script gets from the emulator. */
export const INSTANCE_ID_ENV = 'SPILLWAY_INSTANCE_ID';
export const METADATA_URL_ENV = 'SPILLWAY_METADATA_URL';

export interface BootScriptOptions {
  /** Where each instance's output goes (`<instanceId>.log`). */
  readonly logDir: string;
  /** Added to every boot script's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long a terminated instance's processes get between SIGTERM and SIGKILL (real time); default 3 s. */
  readonly shutdownGraceMs?: number;
}

/**
 * Runs instances' user data as local processes, like an instance's first boot: `sh -c <script>` in its own process
 * group, with PATH, the instance id and its metadata address in the environment and nothing else of the test's
 * (no AWS credentials leak into agents). Terminating an instance stops its whole process group.
 */
export class InstanceProcesses {
  readonly #opts: BootScriptOptions;
  readonly #running = new Map<string, ChildProcess>();

  constructor(opts: BootScriptOptions) {
    this.#opts = opts;
    mkdirSync(opts.logDir, { recursive: true });
  }

  logPath(instanceId: string): string {
    return join(this.#opts.logDir, `${instanceId}.log`);
  }

  start(instanceId: string, script: string, metadataUrl: string): void {
    if (this.#running.has(instanceId) || script.trim() === '') return;
    const fd = openSync(this.logPath(instanceId), 'a');
    try {
      const child = spawn('sh', ['-c', script], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          ...this.#opts.env,
          [INSTANCE_ID_ENV]: instanceId,
          [METADATA_URL_ENV]: metadataUrl,
        },
      });
      child.on('error', () => undefined);
      child.on('exit', () => {
        if (this.#running.get(instanceId) === child) this.#running.delete(instanceId);
      });
      child.unref();
      this.#running.set(instanceId, child);
    } finally {
      closeSync(fd);
    }
  }

  /** SIGTERM to the instance's process group, SIGKILL after the grace; resolves when it has exited. */
  async stop(instanceId: string): Promise<void> {
    const child = this.#running.get(instanceId);
    if (!child?.pid) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    signalGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), this.#opts.shutdownGraceMs ?? 3_000);
    await exited;
    clearTimeout(timer);
    // Whatever the boot script left in its group goes too.
    signalGroup(child.pid, 'SIGKILL');
  }

  running(): string[] {
    return [...this.#running.keys()];
  }

  /** Kills every instance process at once (test cleanup). */
  killAll(): void {
    for (const child of this.#running.values()) if (child.pid) signalGroup(child.pid, 'SIGKILL');
    this.#running.clear();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}
