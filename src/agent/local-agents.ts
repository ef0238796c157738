import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Logger } from '../log/logger.ts';
import { formatMemory } from '../core/resources.ts';

export interface LocalAgentsOptions {
  /** argv prefix that starts `spillway agent` on this Node. */
  readonly agentCommand: readonly string[];
  readonly url: string;
  /** An agent-role registration token; passed in the environment, never on the command line. */
  readonly token: string;
  readonly caFile?: string;
  readonly count: number;
  readonly cpuMillis: number;
  readonly memoryMiB: number;
  readonly site: string;
  readonly logger: Logger;
}

/**
 * The demo's private cluster: `count` agent processes on this machine, started by `spillway serve` and stopped with
 * it (SIGTERM, so each hands its work back). A real private cluster runs `spillway agent` on its own machines.
 */
export class LocalAgents {
  readonly #children: ChildProcess[] = [];
  readonly #logger: Logger;

  constructor(opts: LocalAgentsOptions) {
    this.#logger = opts.logger;
    for (let i = 1; i <= opts.count; i++) {
      const name = `private-${i}`;
      const args = [
        ...opts.agentCommand.slice(1),
        '--url',
        opts.url,
        '--cpu',
        String(opts.cpuMillis / 1000),
        '--memory',
        formatMemory(opts.memoryMiB),
        '--site',
        opts.site,
        '--name',
        name,
      ];
      const env = { ...process.env, SPILLWAY_TOKEN: opts.token, ...(opts.caFile ? { SPILLWAY_CA_FILE: opts.caFile } : {}) };
      const child = spawn(opts.agentCommand[0]!, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('exit', (code, signal) => this.#logger.info('private agent exited', { name, code, signal }));
      this.#children.push(child);
      this.#logger.info('started private agent', { name, pid: child.pid, site: opts.site });
    }
  }

  pids(): number[] {
    return this.#children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  /** Stops every agent: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    await Promise.all(
      this.#children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
