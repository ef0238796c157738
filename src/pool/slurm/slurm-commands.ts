import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ProviderError, ValidationError } from '../../core/errors.ts';

/** Runs one command and resolves with its standard output. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<string>;

/**
 * Real child processes with `SLURM_CONF` set, no shell, a timeout. A command that fails or times out rejects with a
 * retryable ProviderError carrying its stderr.
 */
export function childProcessRunner(opts: { slurmConf: string; binDir?: string; timeoutMs: number }): CommandRunner {
  const env = { ...process.env, SLURM_CONF: opts.slurmConf };
  return (command, args) =>
    new Promise((resolve, reject) => {
      const file = opts.binDir ? join(opts.binDir, command) : command;
      execFile(
        file,
        [...args],
        { env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) {
            const detail = String(stderr).trim() || err.message;
            reject(new ProviderError(`running ${command} ${args.join(' ')}: ${detail}`, { retryable: true }));
          } else {
            resolve(String(stdout));
          }
        },
      );
    });
}

/** A node name Slurm takes and no shell or option parser misreads. */
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The narrow interface Spillway needs from Slurm: read the queue, the nodes and the partitions; drain, down and
 * delete a node; write a pending job's comment. Every call is one Slurm command (22.05: `squeue --json` and
 * `sinfo --json` speak openapi v0.0.38; scontrol has no JSON, so partitions are read from its one-line form).
 */
export class SlurmCommands {
  readonly #run: CommandRunner;

  constructor(run: CommandRunner) {
    this.#run = run;
  }

  /** `squeue --json --all`: every job slurmctld still knows, pending, running and recently ended. */
  async jobs(): Promise<unknown> {
    return parseJson(await this.#run('squeue', ['--json', '--all']), 'squeue --json');
  }

  /** `sinfo --json`: every node but the FUTURE placeholders. */
  async nodes(): Promise<unknown> {
    return parseJson(await this.#run('sinfo', ['--json']), 'sinfo --json');
  }

  /** `scontrol show partition -o`: partition name -> its node list expression (placeholders included). */
  async partitions(): Promise<Map<string, string>> {
    const text = await this.#run('scontrol', ['show', 'partition', '-o']);
    const partitions = new Map<string, string>();
    for (const line of text.split('\n')) {
      const name = /(?:^|\s)PartitionName=(\S+)/.exec(line)?.[1];
      if (name) partitions.set(name, /(?:^|\s)Nodes=(\S+)/.exec(line)?.[1] ?? '');
    }
    return partitions;
  }

  /** Takes no new jobs; running ones finish. */
  async drain(node: string, reason: string): Promise<void> {
    await this.#run('scontrol', ['update', `nodename=${checkName(node)}`, 'state=DRAIN', `reason=${oneLine(reason)}`]);
  }

  /** Down now: Slurm requeues (or ends) the jobs it ran. */
  async down(node: string, reason: string): Promise<void> {
    await this.#run('scontrol', ['update', `nodename=${checkName(node)}`, 'state=DOWN', `reason=${oneLine(reason)}`]);
  }

  /** Removes a dynamic node; Slurm refuses while it runs jobs. */
  async delete(node: string): Promise<void> {
    await this.#run('scontrol', ['delete', `nodename=${checkName(node)}`]);
  }

  /** Lets a pending job start now: clears the begin-time delay Slurm puts on a job it requeued. */
  async startNow(jobId: number): Promise<void> {
    await this.#run('scontrol', ['update', `jobid=${jobId}`, 'StartTime=now']);
  }

  /** Writes a pending job's comment, where `squeue -O comment` and `scontrol show job` show it to people. */
  async comment(jobId: number, text: string): Promise<void> {
    await this.#run('scontrol', ['update', `jobid=${jobId}`, `comment=${oneLine(text).slice(0, 250)}`]);
  }
}

function checkName(node: string): string {
  if (!NODE_NAME.test(node)) throw new ValidationError('node', `not a Slurm node name: ${JSON.stringify(node)}`);
  return node;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim() || '-';
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderError(`reading ${what}: the output is not JSON`, { retryable: true });
  }
}
