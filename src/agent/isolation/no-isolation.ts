import type { Isolation, TaskSandbox, TaskSandboxRequest, TaskUsage } from './isolation.ts';

/** Variables a task must not inherit from the agent: the agent's own credentials. */
const SECRET_ENV_KEYS = [
  'SPILLWAY_TOKEN',
  'SPILLWAY_BOOT_SCRIPT',
  'SPILLWAY_IDENTITY_DOCUMENT',
  'SPILLWAY_IDENTITY_SIGNATURE',
] as const;

/**
 * No isolation (the agent is not root): a task runs as the agent's user in its own process group, with the agent's
 * environment minus its credentials plus the task's own. It can read the agent's memory and files; the controller's
 * `requireIsolation` policy keeps tasks off such agents unless the platform team allows it.
 */
export class NoIsolation implements Isolation {
  readonly mode = 'none' as const;
  readonly #baseEnv: NodeJS.ProcessEnv;

  constructor(baseEnv: NodeJS.ProcessEnv = process.env) {
    this.#baseEnv = baseEnv;
  }

  prepare(request: TaskSandboxRequest): TaskSandbox {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.#baseEnv)) if (value !== undefined) env[key] = value;
    for (const key of SECRET_ENV_KEYS) delete env[key];
    Object.assign(env, request.env, {
      SPILLWAY_TASK_ID: request.taskId,
      ...(request.gpuIndexes.length > 0 ? { CUDA_VISIBLE_DEVICES: request.gpuIndexes.join(',') } : {}),
    });
    return new GroupSandbox(env);
  }

  close(): void {}
}

const NO_USAGE: TaskUsage = { cpuSeconds: 0, peakMemoryBytes: 0 };

class GroupSandbox implements TaskSandbox {
  readonly spawn;

  constructor(env: Record<string, string>) {
    this.spawn = { uid: undefined, gid: undefined, cwd: undefined, env, gated: false, selfAttach: [] };
  }

  attach(): void {}

  killAll(pgid: number | undefined): void {
    this.signal(pgid, 'SIGKILL');
  }

  signal(pgid: number | undefined, signal: NodeJS.Signals): void {
    if (pgid === undefined) return;
    try {
      process.kill(-pgid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  usage(): TaskUsage {
    return NO_USAGE;
  }

  outOfMemoryReason(): undefined {
    return undefined;
  }

  release(): void {}
}
