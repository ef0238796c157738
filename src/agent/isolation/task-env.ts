/** The PATH every isolated task gets: system folders only, none a user can write to. */
export const TASK_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * A task's whole environment: the task spec's variables, then the documented few, which win: SPILLWAY_TASK_ID,
 * HOME (its working folder), a fixed system PATH and CUDA_VISIBLE_DEVICES (its assigned GPUs, empty for none).
 * Nothing of the agent's own environment is passed on, so no credential of the agent can reach a task this way.
 */
export function isolatedTaskEnv(opts: {
  readonly taskId: string;
  readonly home: string;
  readonly specEnv: Readonly<Record<string, string>>;
  readonly gpuIndexes: readonly number[];
}): Record<string, string> {
  return {
    ...opts.specEnv,
    SPILLWAY_TASK_ID: opts.taskId,
    HOME: opts.home,
    PATH: TASK_PATH,
    CUDA_VISIBLE_DEVICES: opts.gpuIndexes.join(','),
  };
}
