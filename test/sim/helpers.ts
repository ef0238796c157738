import type { TraceTask } from '../../src/sim/trace.ts';

/** A trace task of `cpus` CPUs (1 GiB each) submitted at `submitS` that runs `runS` seconds. */
export function job(id: string, submitS: number, cpus: number, runS: number, revocable = false): TraceTask {
  return {
    id,
    line: 0,
    submitS,
    runS,
    owner: { team: 't', project: 'p', job: id },
    resources: { cpuMillis: cpus * 1000, memoryMiB: cpus * 1024, gpus: 0, netMbps: 0 },
    revocable,
    constraints: {},
  };
}

/** Tasks as the stream a trace reader gives. */
export async function* stream(tasks: readonly TraceTask[]): AsyncGenerator<TraceTask> {
  yield* tasks;
}
