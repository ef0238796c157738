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

/** How long a demo private agent lets its tasks finish on stop before it hands them back. */
const DRAIN_TIMEOUT_MS = 2_000;

/** What of the controller's environment its agents (and so their tasks) see: no credentials, no cloud keys. */
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SPILLWAY_DEBUG'];

function passThroughEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of PASSED_ENV) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
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
        '--drain-timeout-ms',
        String(DRAIN_TIMEOUT_MS),
      ];
      const env = {
        ...passThroughEnv(),
        SPILLWAY_TOKEN: opts.token,
        ...(opts.caFile ? { SPILLWAY_CA_FILE: opts.caFile } : {}),
      };
      // Their own process group: a Ctrl-C at the terminal reaches `serve`, which stops them in order.
      const child = spawn(opts.agentCommand[0]!, args, { env, detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('exit', (code, signal) => this.#logger.info('private agent exited', { name, code, signal }));
      this.#children.push(child);
      this.#logger.info('started private agent', { name, pid: child.pid, site: opts.site });
    }
  }

  pids(): number[] {
    return this.#children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  /** Stops every agent: SIGTERM (each hands its tasks back within its drain timeout), then SIGKILL after `graceMs`. */
  async stop(graceMs = DRAIN_TIMEOUT_MS + 10_000): Promise<void> {
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
