import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import { ApiClient } from '../../src/api/client.ts';
import { killAll, pidsMatching } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO, 'src/cli/main.ts');

/** A free TCP port on loopback (so a restarted controller keeps its URL). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface Cluster {
  readonly dir: string;
  readonly home: string;
  readonly configPath: string;
  readonly url: string;
  readonly port: number;
}

/** A temp folder with a spillway.yaml for a fast local burst: short grace, short idle TTL, a fast local cloud. */
export async function makeCluster(overrides: Record<string, unknown> = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-e2e-'));
  const home = join(dir, 'home');
  const port = await freePort();
  const config = {
    clusterId: 'e2e',
    home,
    api: { host: '127.0.0.1', port },
    pool: { heartbeatIntervalMs: 300, lostAfterMs: 5_000 },
    controller: { passIntervalMs: 200, reconcileEveryPasses: 5, leaseTtlMs: 3_000, unavailableForMs: 30_000 },
    providers: [
      {
        kind: 'local',
        name: 'cloud',
        bootDelayMs: 300,
        offerings: [{ instanceType: 'local.small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.0832 }],
      },
    ],
    policy: {
      pendingGraceMs: 2_000,
      idleTtlMs: 3_000,
      maxProvisionMs: 30_000,
      unknownInstanceGraceMs: 30_000,
      limits: { maxInstances: 6, maxVcpus: 24, maxGpus: 0 },
    },
    log: { level: 'debug' },
    ...overrides,
  };
  const configPath = join(dir, 'spillway.yaml');
  writeFileSync(configPath, stringify(config));
  return { dir, home, configPath, url: `http://127.0.0.1:${port}`, port };
}

/** A `spillway serve` child process, its log going to a file in the cluster folder. */
export class ServeProcess {
  readonly child: ChildProcess;
  readonly logFile: string;

  constructor(cluster: Cluster, opts: { env?: Record<string, string>; name?: string; configPath?: string } = {}) {
    this.logFile = join(cluster.dir, `${opts.name ?? 'serve'}-${Date.now()}.log`);
    const log = createWriteStream(this.logFile);
    this.child = spawn(process.execPath, [CLI, 'serve', '--config', opts.configPath ?? cluster.configPath], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
  }

  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  exited(): Promise<unknown> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return once(this.child, 'exit');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const exited = this.exited();
    this.child.kill(signal);
    await exited;
  }
}

/** Waits until the API at `url` answers /healthz. */
export async function waitHealthy(url: string, serve?: ServeProcess): Promise<void> {
  const client = new ApiClient({ url, timeoutMs: 2_000 });
  try {
    await waitFor(`${url}/healthz`, async () => {
      if (serve && serve.child.exitCode !== null) throw new Error(`serve exited early:\n${serve.log().slice(-3000)}`);
      return (await client.get<{ ok: boolean }>('/healthz')).ok;
    }, { timeoutMs: 30_000, intervalMs: 100 });
  } finally {
    client.close();
  }
}

export function adminClient(cluster: Cluster): ApiClient {
  const token = readFileSync(join(cluster.home, 'admin.token'), 'utf8').trim();
  return new ApiClient({ url: cluster.url, token });
}

/** Reads the store's file read-only, as committed, while the server runs. */
export function query<T = Record<string, unknown>>(cluster: Cluster, sql: string, ...params: (string | number)[]): T[] {
  const db = new DatabaseSync(join(cluster.home, 'spillway.db'), { readOnly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Starts a private agent process (as a private machine would run it) with a registration token in its env. */
export function startAgent(cluster: Cluster, token: string, opts: { name: string; cpu: number; memory: string }): ChildProcess {
  return spawn(
    process.execPath,
    [CLI, 'agent', '--url', cluster.url, '--cpu', String(opts.cpu), '--memory', opts.memory, '--name', opts.name, '--site', 'lab'],
    { env: { ...process.env, SPILLWAY_TOKEN: token }, stdio: 'ignore' },
  );
}

/** Every process that belongs to this cluster (agents, local instances), found by the cluster's folder or URL. */
export function clusterPids(cluster: Cluster): number[] {
  return [...new Set([...pidsMatching(cluster.dir), ...pidsMatching(`--url ${cluster.url}`), ...pidsMatching(`'${cluster.url}'`)])];
}

/** The cluster's local cloud as the product sees it, read from its state folder (for checks and cleanup). */
export function localCloud(cluster: Cluster): LocalProvider | undefined {
  const config = parseConfig(parse(readFileSync(cluster.configPath, 'utf8')));
  const provider = config.providers.find((p) => p.kind === 'local');
  if (provider?.kind !== 'local') return undefined;
  return new LocalProvider({
    config: provider,
    stateDir: join(cluster.home, 'local-cloud', provider.name),
    agentCommand: ['true'],
    logger: silentLogger(),
    terminateGraceMs: 1_000,
  });
}

/**
 * Stops everything a test left: its child processes, every instance of the cluster's local cloud (whatever URL its
 * agent was given: a standby controller's launches point elsewhere), and any process naming the cluster.
 */
export async function cleanup(cluster: Cluster | undefined, children: readonly (ChildProcess | undefined)[] = []): Promise<void> {
  if (!cluster) return;
  killAll(children.flatMap((c) => (c?.pid ? [c.pid] : [])));
  const cloud = localCloud(cluster);
  if (cloud) {
    const instances = await cloud.list(readClusterId(cluster)).catch(() => []);
    await cloud.terminate(instances.map((i) => i.id)).catch(() => undefined);
  }
  killAll(clusterPids(cluster));
  if (!process.env.SPILLWAY_KEEP_E2E) rmSync(cluster.dir, { recursive: true, force: true });
}

function readClusterId(cluster: Cluster): string {
  return parseConfig(parse(readFileSync(cluster.configPath, 'utf8'))).clusterId;
}

/**
 * The `spillway serve` processes of one test, each started with `env(cluster)` (a cloud's credentials, no metadata
 * probes) under its own overrides, so the test's teardown can kill every one of them.
 */
export class Serves {
  readonly #env: (cluster: Cluster) => Record<string, string>;
  #started: ServeProcess[] = [];

  constructor(env: (cluster: Cluster) => Record<string, string> = () => ({})) {
    this.#env = env;
  }

  /** Starts a serve named `name` (its log file's prefix); `env` goes over the cloud's environment. */
  start(cluster: Cluster, name: string, env: Record<string, string> = {}): ServeProcess {
    const serve = new ServeProcess(cluster, { env: { ...this.#env(cluster), ...env }, name });
    this.#started.push(serve);
    return serve;
  }

  /** Starts a serve as `start` does and resolves once its API answers /healthz (rejects if it exits first). */
  async startHealthy(cluster: Cluster, name: string, env: Record<string, string> = {}): Promise<ServeProcess> {
    const serve = this.start(cluster, name, env);
    await waitHealthy(cluster.url, serve);
    return serve;
  }

  /** SIGKILLs every serve started so far, forgets them and returns their child processes. */
  async stopAll(): Promise<ChildProcess[]> {
    const started = this.#started.splice(0);
    for (const s of started) await s.stop('SIGKILL').catch(() => undefined);
    return started.map((s) => s.child);
  }
}

/**
 * A test's teardown over emulated clouds: closes the client, kills every serve, closes the emulators, then cleans
 * the cluster up (`cleanup`) and removes `dirs` unless SPILLWAY_KEEP_E2E is set.
 */
export async function tearDown(parts: {
  readonly client?: ApiClient | undefined;
  readonly serves: Serves;
  readonly emulators: readonly ({ close(): Promise<void> } | undefined)[];
  readonly cluster: Cluster | undefined;
  readonly dirs?: readonly (string | undefined)[];
}): Promise<void> {
  parts.client?.close();
  const children = await parts.serves.stopAll();
  for (const emulator of parts.emulators) await emulator?.close();
  await cleanup(parts.cluster, children);
  if (process.env.SPILLWAY_KEEP_E2E) return;
  for (const dir of parts.dirs ?? []) if (dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * A cluster bursting to `providers` only, with the cloud tests' policy (a second's grace, a two-second idle TTL,
 * at most six instances) under `policy`, and `overrides` over the rest of the config.
 */
export function makeCloudCluster(
  providers: readonly Record<string, unknown>[],
  policy: Record<string, unknown> = {},
  overrides: Record<string, unknown> = {},
): Promise<Cluster> {
  return makeCluster({
    ...overrides,
    providers: [...providers],
    policy: {
      pendingGraceMs: 1_000,
      idleTtlMs: 2_000,
      maxProvisionMs: 30_000,
      unknownInstanceGraceMs: 30_000,
      limits: { maxInstances: 6, maxVcpus: 24, maxGpus: 0 },
      ...policy,
    },
  });
}
