import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** A real `spillway serve` in a child process, over a store the benchmark filled before. */
export interface ServeProcess {
  readonly url: string;
  /** The admin token serve wrote to its home. */
  readonly token: string;
  readonly child: ChildProcess;
  /** serve's peak resident set so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** SIGTERM, then SIGKILL after 10 s; resolves when it exited. */
  stop(): Promise<void>;
}

/**
 * Writes `config` (YAML; `api.port` is filled in with a free loopback port) to `dir/spillway.yaml` and starts serve on
 * it, with the cloud SDKs' metadata lookups off. Resolves once `/healthz` answers and the admin token exists.
 * `nodeArgs` go before the script (for example `--cpu-prof`).
 */
export async function startServe(
  dir: string,
  config: Record<string, unknown> & { home: string },
  opts: { nodeArgs?: readonly string[]; log?: (line: string) => void } = {},
): Promise<ServeProcess> {
  const port = await freePort();
  const configPath = join(dir, 'spillway.yaml');
  const api = (config['api'] as Record<string, unknown> | undefined) ?? {};
  writeFileSync(configPath, stringify({ ...config, api: { ...api, host: '127.0.0.1', port } }));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI, 'serve', '--config', configPath], {
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', METADATA_SERVER_DETECTION: 'none' },
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: dir,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const url = `http://127.0.0.1:${port}`;
    const startedAt = performance.now();
    await waitFor(
      async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true,
      180_000,
      () => {
        if (child.exitCode !== null) throw new Error(`serve exited: ${stderr}`);
      },
    );
    opts.log?.(`  serve answered after ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
    const tokenFile = join(config.home, 'admin.token');
    await waitFor(async () => existsSync(tokenFile), 30_000);
    const token = readFileSync(tokenFile, 'utf8').trim();
    return { url, token, child, peakRssMiB: () => peakRss(child.pid ?? 0), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Runs `call` back to back until `untilMs` (performance.now()), or until `done` holds after a call; returns each
 * call's duration in ms. A call whose
 * kept-alive connection the server reset is made again, and its duration runs until that answer: after the event loop
 * was held longer than the server's keep-alive timeout (5 s), it closes connections a request was already on.
 */
export async function loop(untilMs: number, call: () => Promise<void>, done?: () => boolean): Promise<number[]> {
  const durations: number[] = [];
  while (performance.now() < untilMs && done?.() !== true) {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await call();
        break;
      } catch (err) {
        if (attempt >= 3 || !wasReset(err)) throw err;
      }
    }
    durations.push(performance.now() - started);
  }
  return durations;
}

function wasReset(err: unknown): boolean {
  const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
  return cause?.code === 'ECONNRESET' || cause?.code === 'UND_ERR_SOCKET';
}

/** The process's peak resident set (VmHWM), in MiB. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, each?: () => void): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    each?.();
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`waiting ${timeoutMs} ms: the condition never held`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
