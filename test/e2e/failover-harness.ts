import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { ApiClient } from '../../src/api/client.ts';
import type { Health } from '../../src/api/types.ts';
import type { Task } from '../../src/core/task.ts';
import { TAG_INTENT } from '../../src/providers/aws-ec2/launch-input.ts';
import { Ec2Emulator } from '../emulators/ec2/ec2-emulator.ts';
import { NetnsLab } from '../helpers/netns-lab.ts';
import { POSTGRES_PASSWORD, POSTGRES_USER, PostgresServer } from '../helpers/postgres-server.ts';
import { killAll } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { tasksSpec } from './crash-rounds.ts';
import { awsServeEnv, ec2ProviderEntry } from './ec2-cloud.ts';
import { cleanup, CLI, makeCloudCluster, type Cluster } from './harness.ts';

/** The port every controller listens on, each on its own namespace's address; PostgreSQL's port on the bridge. */
const API_PORT = 7070;
const DB_PORT = 55_433;

/** One `spillway serve` running in its own network namespace, its log going to a file. */
export class LabServe {
  readonly index: number;
  readonly ns: string;
  readonly url: string;
  readonly configPath: string;
  #child: ChildProcess | undefined;
  #logFiles: string[] = [];
  readonly #lab: FailoverLab;

  constructor(lab: FailoverLab, index: number, ns: string, url: string, configPath: string) {
    this.#lab = lab;
    this.index = index;
    this.ns = ns;
    this.url = url;
    this.configPath = configPath;
  }

  get child(): ChildProcess | undefined {
    return this.#child;
  }

  /** Whether its process runs (stopped counts as running). */
  get alive(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /**
   * Starts it (again) in its namespace, `env` over the lab's (for this run only, e.g. SPILLWAY_FAILPOINTS). `ip netns
   * exec` execs in place: the child's pid is the serve's.
   */
  start(env: Record<string, string> = {}): void {
    assert.ok(!this.alive, `controller ${this.index} already runs`);
    const logFile = join(this.#lab.cluster.dir, `serve-${this.index}-${this.#logFiles.length}.log`);
    this.#logFiles.push(logFile);
    const log = createWriteStream(logFile);
    const child = this.#lab.lab.spawn(this.ns, process.execPath, [CLI, 'serve', '--config', this.configPath], {
      env: { ...process.env, ...awsServeEnv(this.#lab.cluster.dir), METADATA_SERVER_DETECTION: 'none', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.#child = child;
  }

  /** Every log line of every run of this controller, oldest first. */
  log(): string {
    return this.#logFiles.map((f) => readFileSync(f, 'utf8')).join('');
  }

  /** The log of its current (or last) run only. */
  lastLog(): string {
    const f = this.#logFiles.at(-1);
    return f === undefined ? '' : readFileSync(f, 'utf8');
  }

  /** Sends `signal`; for SIGKILL, resolves once the process is gone. */
  async signal(signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): Promise<void> {
    const c = this.#child;
    if (!c || !this.alive) return;
    const exited = signal === 'SIGKILL' || signal === 'SIGTERM' ? once(c, 'exit') : undefined;
    c.kill(signal);
    await exited;
  }

  /** GET /healthz within `timeoutMs`; undefined when it does not answer (dead, stopped, not yet listening). */
  async health(timeoutMs = 1_000): Promise<Health | undefined> {
    if (!this.alive) return undefined;
    try {
      const answer = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
      return answer.ok ? ((await answer.json()) as Health) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** What `check` found: each figure issue 17 asks to be 0, and the counts behind them. */
export interface FailoverCheck {
  readonly instances: number;
  readonly launchIntents: number;
  readonly tasks: number;
}

/**
 * Issue 17's lab: three `spillway serve` processes, each in its own network namespace (`spwha-1..3`) listening on its
 * namespace's address, one PostgreSQL on the bridge (`databaseAddress`), and one EC2 emulator on the host's bridge
 * address that all three launch into (it honours ClientToken and runs each instance's user data on the host: the
 * agents reach the controllers on their bridge addresses, with all three URLs from `api.agentUrls`). The controllers
 * share one config but for their address (and one home folder, for the admin token).
 *
 * `close` stops everything it started (serves, agents, the emulator, PostgreSQL, the namespaces and the folders),
 * also after a failed test; SPILLWAY_KEEP_E2E keeps the folders.
 */
export class FailoverLab {
  readonly lab: NetnsLab;
  readonly db: PostgresServer;
  readonly database: string;
  readonly emulator: Ec2Emulator;
  readonly cluster: Cluster;
  readonly serves: readonly LabServe[];
  readonly leaseTtlMs: number;
  readonly passIntervalMs: number;
  readonly #logDir: string;
  readonly #clients: ApiClient[] = [];
  /** Every task id a burst submitted (the lost-task check's list). */
  readonly submitted: string[] = [];
  #token = '';

  private constructor(parts: {
    lab: NetnsLab;
    db: PostgresServer;
    database: string;
    emulator: Ec2Emulator;
    cluster: Cluster;
    logDir: string;
    leaseTtlMs: number;
    passIntervalMs: number;
  }) {
    this.lab = parts.lab;
    this.db = parts.db;
    this.database = parts.database;
    this.emulator = parts.emulator;
    this.cluster = parts.cluster;
    this.#logDir = parts.logDir;
    this.leaseTtlMs = parts.leaseTtlMs;
    this.passIntervalMs = parts.passIntervalMs;
    this.serves = this.lab.namespaces.map((ns, i) => {
      const url = `http://${this.lab.address(ns)}:${API_PORT}`;
      return new LabServe(this, i, ns, url, join(this.cluster.dir, `serve-${i}.yaml`));
    });
  }

  /**
   * Builds the lab and starts the three controllers; resolves once every one answers /healthz and one leads. A
   * failure on the way removes what was built.
   */
  static async start(opts: { leaseTtlMs?: number; passIntervalMs?: number } = {}): Promise<FailoverLab> {
    const leaseTtlMs = opts.leaseTtlMs ?? 3_000;
    const passIntervalMs = opts.passIntervalMs ?? 200;
    const built: { lab?: NetnsLab; db?: PostgresServer; emulator?: Ec2Emulator; cluster?: Cluster; logDir?: string } =
      {};
    try {
      built.lab = NetnsLab.create(3);
      const lab = built.lab;
      built.db = await PostgresServer.start({ listenAddress: lab.databaseAddress, allowNetwork: lab.cidr, port: DB_PORT });
      const database = await built.db.createDatabase('failover');
      built.logDir = mkdtempSync(join(tmpdir(), 'spillway-failover-instances-'));
      built.emulator = await Ec2Emulator.start({
        host: lab.hostAddress,
        bootMs: 300,
        bootScripts: { logDir: built.logDir, shutdownGraceMs: 2_000 },
      });
      const urls = lab.namespaces.map((ns) => `http://${lab.address(ns)}:${API_PORT}`);
      built.cluster = await makeCloudCluster(
        [ec2ProviderEntry(built.emulator, { agentCommand: [process.execPath, CLI, 'agent'] })],
        { limits: { maxInstances: 6, maxVcpus: 24, maxGpus: 0 } },
        {
          controller: { passIntervalMs, reconcileEveryPasses: 5, leaseTtlMs, unavailableForMs: 30_000 },
          log: { level: 'info' },
        },
      );
      const cluster = built.cluster;
      const passwordFile = join(cluster.dir, 'pg-password');
      writeFileSync(passwordFile, `${POSTGRES_PASSWORD}\n`, { mode: 0o600 });
      const base = parse(readFileSync(cluster.configPath, 'utf8')) as Record<string, unknown>;
      const failover = new FailoverLab({
        lab,
        db: built.db,
        database,
        emulator: built.emulator,
        cluster,
        logDir: built.logDir,
        leaseTtlMs,
        passIntervalMs,
      });
      for (const serve of failover.serves) {
        const config = {
          ...base,
          store: {
            kind: 'postgres',
            url: `postgresql://${POSTGRES_USER}@${lab.databaseAddress}:${DB_PORT}/${database}`,
            passwordFile,
            connectTimeoutMs: 2_000,
          },
          api: { host: lab.address(serve.ns), port: API_PORT, publicUrl: serve.url, agentUrls: urls },
        };
        writeFileSync(serve.configPath, stringify(config));
      }
      // One at a time: the first creates the schema and the admin token the others find.
      for (const serve of failover.serves) {
        serve.start();
        await failover.waitHealthy(serve);
      }
      await failover.waitLeader();
      return failover;
    } catch (err) {
      await FailoverLab.#remove(built, []);
      throw err;
    }
  }

  /** Resolves once `serve` answers /healthz; rejects if it exits first (with the end of its log). */
  async waitHealthy(serve: LabServe, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `controller ${serve.index} to answer /healthz`,
      async () => {
        if (!serve.alive) throw new Error(`controller ${serve.index} exited:\n${serve.lastLog().slice(-3000)}`);
        return (await serve.health())?.ok;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Waits until the emulator runs no instance (idle capacity released), so the next burst must launch. */
  async waitScaledToZero(timeoutMs = 60_000): Promise<void> {
    await waitFor('every instance to be terminated', () => this.emulator.liveInstances().length === 0, {
      timeoutMs,
      intervalMs: 200,
    });
  }

  /** The controller whose /healthz says it leads; undefined when none answers so. */
  async leader(): Promise<LabServe | undefined> {
    const answers = await Promise.all(this.serves.map(async (s) => ((await s.health())?.leader ? s : undefined)));
    const leaders = answers.filter((s) => s !== undefined);
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** Waits until exactly one controller, other than `not`, leads. */
  async waitLeader(opts: { not?: LabServe; timeoutMs?: number } = {}): Promise<LabServe> {
    return waitFor(
      opts.not ? `a controller other than ${opts.not.index} to lead` : 'a controller to lead',
      async () => {
        const leader = await this.leader();
        return leader !== undefined && leader !== opts.not ? leader : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 100 },
    );
  }

  /** The admin token (the first controller wrote it to the shared home). */
  token(): string {
    this.#token ||= readFileSync(join(this.cluster.home, 'admin.token'), 'utf8').trim();
    return this.#token;
  }

  /** An admin client of `serve`. */
  client(serve: LabServe): ApiClient {
    const made = new ApiClient({ url: serve.url, token: this.token(), timeoutMs: 3_000 });
    this.#clients.push(made);
    return made;
  }

  /**
   * Submits `count` one-CPU tasks of `ms` each through `via` (a controller that is up and stays up while it answers:
   * a standby, so killing the leader cannot lose the submission) and records their ids.
   */
  async submitBurst(via: LabServe, count: number, ms = 1_000): Promise<string[]> {
    const { tasks } = await this.client(via).post<{ tasks: Task[] }>('/v1/tasks', tasksSpec(count, ms));
    assert.equal(tasks.length, count);
    const ids = tasks.map((t) => t.id);
    this.submitted.push(...ids);
    return ids;
  }

  /** Waits until every submitted task succeeded, asking whichever controller answers. */
  async waitAllSucceeded(timeoutMs = 90_000): Promise<void> {
    await waitFor(
      `all ${this.submitted.length} tasks to succeed`,
      async () => {
        const states = await this.taskStates();
        return this.submitted.every((id) => states.get(id) === 'succeeded');
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** Every task's state, read from PostgreSQL (not through a controller that may be the one in trouble). */
  async taskStates(): Promise<Map<string, string>> {
    const rows = await this.sql<{ id: string; state: string }>('SELECT id, state FROM tasks');
    return new Map(rows.map((r) => [r.id, r.state]));
  }

  /** Runs `text` on the lab's database over its Unix socket. */
  async sql<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
    const client = new pg.Client(this.db.connection(this.database));
    await client.connect();
    try {
      return (await client.query<T>(text)).rows;
    } finally {
      await client.end();
    }
  }

  /**
   * Issue 17's checks, from the emulator's whole history and the database: no duplicate or unknown instance (every
   * instance carries a launch intent the store has, is an agent's instance there, and no intent has more instances
   * than its count), no lost task (every submitted task is in the store, and the store holds no other), every task
   * succeeded.
   */
  async check(): Promise<FailoverCheck> {
    const launches = new Map(
      (await this.sql<{ id: string; count: number }>(`SELECT id, count FROM intents WHERE kind = 'launch'`)).map((r) => [
        String(r.id),
        Number(r.count),
      ]),
    );
    const known = new Set(
      (await this.sql<{ instance_id: string }>('SELECT instance_id FROM agents WHERE instance_id IS NOT NULL')).map(
        (r) => String(r.instance_id),
      ),
    );
    const perIntent = new Map<string, number>();
    const instances = this.emulator.instances();
    for (const instance of instances) {
      const intentId = instance.tags.get(TAG_INTENT) ?? '';
      assert.ok(launches.has(intentId), `instance ${instance.id} carries intent "${intentId}", which the store knows`);
      assert.ok(known.has(instance.id), `instance ${instance.id} (${instance.state}) is an agent the store knows`);
      perIntent.set(intentId, (perIntent.get(intentId) ?? 0) + 1);
    }
    for (const [intentId, n] of perIntent) {
      assert.ok(n <= launches.get(intentId)!, `intent ${intentId} launched ${n} instances for a count of ${launches.get(intentId)}`);
    }
    const states = await this.taskStates();
    const lost = this.submitted.filter((id) => !states.has(id));
    assert.deepEqual(lost, [], 'no submitted task is lost');
    assert.equal(states.size, this.submitted.length, 'the store holds the submitted tasks and no other');
    const notDone = [...states].filter(([, state]) => state !== 'succeeded');
    assert.deepEqual(notDone, [], 'every task succeeded');
    return { instances: instances.length, launchIntents: launches.size, tasks: states.size };
  }

  /**
   * Brings the lab back to three healthy controllers and one leader after a scenario, whatever it left: links healed,
   * the database up, stopped controllers continued, dead ones started again.
   */
  async restore(): Promise<void> {
    for (const ns of this.lab.namespaces) this.lab.heal(ns);
    await this.db.resume();
    for (const serve of this.serves) {
      if (serve.alive) await serve.signal('SIGCONT');
      else serve.start();
    }
    for (const serve of this.serves) await this.waitHealthy(serve);
    await this.waitLeader();
    await this.waitScaledToZero();
  }

  /** Stops everything; safe to call twice. */
  async close(): Promise<void> {
    for (const c of this.#clients.splice(0)) c.close();
    await FailoverLab.#remove(
      { lab: this.lab, db: this.db, emulator: this.emulator, cluster: this.cluster, logDir: this.#logDir },
      this.serves.flatMap((s) => (s.child ? [s.child] : [])),
    );
  }

  static async #remove(
    built: { lab?: NetnsLab; db?: PostgresServer; emulator?: Ec2Emulator; cluster?: Cluster; logDir?: string },
    children: readonly ChildProcess[],
  ): Promise<void> {
    const pids = children.flatMap((c) => (c.pid !== undefined && c.exitCode === null && c.signalCode === null ? [c.pid] : []));
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    killAll(pids);
    await built.emulator?.close();
    await cleanup(built.cluster, children);
    await built.db?.stop();
    built.lab?.remove();
    if (!process.env.SPILLWAY_KEEP_E2E && built.logDir) rmSync(built.logDir, { recursive: true, force: true });
  }
}

/** One seeded kill: when it came after its burst's submission, and how long until another controller took over. */
export interface KillRound {
  readonly round: number;
  readonly killed: number;
  readonly delayMs: number;
  readonly tasks: number;
  /** From the SIGKILL to the new leader's "took the lease" log line (its own timestamp). */
  readonly takeoverMs: number;
  readonly newLeader: number;
}

/**
 * Rounds of: a burst of 2-4 tasks submitted through a standby, the leader SIGKILLed a random 0-3 s later (a moment
 * of the burst: before its launch, during it, or while its tasks run), the new leader awaited, the killed controller
 * started again (as a supervisor would). Every draw comes from `random` (a seeded generator: the caller prints the
 * seed). Ends once every task of every burst succeeded; the caller runs `check`.
 */
export async function runSeededKills(
  lab: FailoverLab,
  kills: number,
  random: () => number,
  onRound: (r: KillRound) => void = () => undefined,
): Promise<KillRound[]> {
  const rounds: KillRound[] = [];
  for (let round = 0; round < kills; round++) {
    const leader = await lab.waitLeader();
    const standby = lab.serves.find((s) => s !== leader)!;
    const tasks = 2 + Math.floor(random() * 3);
    const delayMs = Math.floor(random() * 3_000);
    await lab.submitBurst(standby, tasks, 1_000);
    // The random moment itself is what this round tests: not a wait for something to happen.
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const logBefore = new Map(lab.serves.map((s) => [s, s.log().length]));
    const killedAtMs = Date.now();
    await leader.signal('SIGKILL');
    const next = await lab.waitLeader({ not: leader, timeoutMs: 30_000 });
    const took = firstLine(next.log().slice(logBefore.get(next)), 'took the lease; acting');
    assert.ok(took, `controller ${next.index} logged taking the lease`);
    const takeoverMs = Date.parse(took.timestamp) - killedAtMs;
    const r: KillRound = { round: round + 1, killed: leader.index, delayMs, tasks, takeoverMs, newLeader: next.index };
    rounds.push(r);
    onRound(r);
    leader.start();
    await lab.waitHealthy(leader);
  }
  await lab.waitAllSucceeded(120_000);
  return rounds;
}

/** The first JSON log line in `log` whose message is `message`. */
export function firstLine(log: string, message: string): { timestamp: string; message: string } | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes(message)) continue;
    try {
      const parsed = JSON.parse(line) as { timestamp: string; message: string };
      if (parsed.message === message) return parsed;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

/** How many JSON log lines in `log` have `message`. */
export function countLines(log: string, message: string): number {
  return log.split('\n').filter((l) => l.includes(`"message":"${message}"`)).length;
}
