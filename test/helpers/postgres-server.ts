import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { waitFor } from './wait.ts';

/**
 * Debian's PostgreSQL binaries (scripts/system-deps.sh installs the `postgresql` package): the newest major version
 * under /usr/lib/postgresql (15 on bookworm, 17 on trixie), or SPILLWAY_POSTGRES_BIN.
 */
export const POSTGRES_BIN = process.env['SPILLWAY_POSTGRES_BIN'] ?? debianPostgresBin();

function debianPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => /^\d+$/.test(entry) && existsSync(join(root, entry, 'bin', 'initdb')))
        .sort((x, y) => Number(y) - Number(x))
    : [];
  return join(root, versions[0] ?? '15', 'bin');
}
/** The superuser the harness creates, and its password (every connection authenticates with SCRAM). */
export const POSTGRES_USER = 'spillway';
export const POSTGRES_PASSWORD = 'test-password-not-secret';

export interface PostgresServerOptions {
  /**
   * Also listen on this IPv4 address (besides the Unix socket), e.g. a bridge address that network namespaces can
   * reach. Default: the Unix socket only.
   */
  readonly listenAddress?: string;
  /** The TCP port (and the socket's number); default 5432, harmless with the socket alone since its folder is ours. */
  readonly port?: number;
  /** Serve TLS (on the TCP address) with this PEM certificate and key; they are copied into the server's folder. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /**
   * Clients from this IPv4 network (CIDR, e.g. a bridge's `192.168.78.0/24`) may connect over TCP, with SCRAM like
   * every other client; initdb's own rules allow only the socket and 127.0.0.1.
   */
  readonly allowNetwork?: string;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string>>;
}

/**
 * A throwaway PostgreSQL server for tests: `initdb` in a fresh temporary folder, the server running as Debian's
 * `postgres` user (PostgreSQL refuses to run as root), listening on a Unix socket in that folder. Durability is off
 * (`fsync=off`): the folder is deleted afterwards and speed matters more. `stop` ends the server and deletes the
 * folder; a mocha process that exits without calling it still kills the server on its way out.
 */
export class PostgresServer {
  readonly dir: string;
  readonly port: number;
  readonly listenAddress: string | undefined;
  /** The command that runs the server on its data folder. */
  readonly #command: { readonly file: string; readonly args: readonly string[] };
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = '';
  #databases = 0;

  private constructor(
    dir: string,
    port: number,
    listenAddress: string | undefined,
    command: { file: string; args: string[] },
  ) {
    this.dir = dir;
    this.port = port;
    this.listenAddress = listenAddress;
    this.#command = command;
  }

  /** Creates the cluster, starts the server and resolves once it accepts an authenticated query. */
  static async start(opts: PostgresServerOptions = {}): Promise<PostgresServer> {
    const port = opts.port ?? 5432;
    const dir = mkdtempSync(join('/tmp', 'spillway-pg-'));
    const data = join(dir, 'data');
    const asPostgres = runAs();
    chmodSync(dir, 0o700);
    if (asPostgres.uid !== undefined) chownSync(dir, asPostgres.uid, asPostgres.gid);
    const passwordFile = join(dir, 'initdb-password');
    writeFileSync(passwordFile, POSTGRES_PASSWORD, { mode: 0o600 });
    if (asPostgres.uid !== undefined) chownSync(passwordFile, asPostgres.uid, asPostgres.gid);

    const initdb = spawnSync(
      asPostgres.command,
      [
        ...asPostgres.prefix,
        join(POSTGRES_BIN, 'initdb'),
        '--pgdata',
        data,
        '--username',
        POSTGRES_USER,
        '--pwfile',
        passwordFile,
        '--auth',
        'scram-sha-256',
        '--encoding',
        'UTF8',
        '--locale',
        'C',
        '--no-sync',
      ],
      { encoding: 'utf8' },
    );
    rmSync(passwordFile, { force: true });
    if (initdb.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`initdb in ${data} failed (${initdb.status}): ${initdb.stderr || initdb.error?.message}`);
    }
    if (opts.allowNetwork !== undefined) {
      appendFileSync(join(data, 'pg_hba.conf'), `host all all ${opts.allowNetwork} scram-sha-256\n`);
    }

    const tlsSettings: Record<string, string> = {};
    if (opts.tls !== undefined) {
      for (const [name, pem] of [
        ['server.crt', opts.tls.cert],
        ['server.key', opts.tls.key],
      ] as const) {
        writeFileSync(join(dir, name), pem, { mode: 0o600 });
        if (asPostgres.uid !== undefined) chownSync(join(dir, name), asPostgres.uid, asPostgres.gid);
      }
      Object.assign(tlsSettings, {
        ssl: 'on',
        ssl_cert_file: join(dir, 'server.crt'),
        ssl_key_file: join(dir, 'server.key'),
      });
    }
    const settings: Record<string, string> = {
      ...tlsSettings,
      listen_addresses: opts.listenAddress ?? '',
      port: String(port),
      unix_socket_directories: dir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '50',
      shared_buffers: '16MB',
      ...opts.settings,
    };
    const server = new PostgresServer(dir, port, opts.listenAddress, {
      file: asPostgres.command,
      args: [
        ...asPostgres.prefix,
        join(POSTGRES_BIN, 'postgres'),
        '-D',
        data,
        ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      ],
    });
    running.add(server);
    try {
      await server.resume();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /**
   * Starts the server again on its data after `halt` (a restart of the database under running clients), resolving
   * once it accepts an authenticated query. Starting a running server is not an error.
   */
  async resume(): Promise<void> {
    if (this.#running()) return;
    const child = spawn(this.#command.file, [...this.#command.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.#log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.#log += chunk.toString()));
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const outcome = await waitFor(
      `PostgreSQL in ${this.dir} to accept queries`,
      async () => {
        // The server exited: waiting longer cannot help.
        if (child.exitCode !== null || child.signalCode !== null) return 'exited';
        const client = new pg.Client(this.connection());
        try {
          await client.connect();
          await client.query('SELECT 1');
          return 'ready';
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    if (outcome === 'exited') {
      throw new Error(`PostgreSQL in ${this.dir} exited (${child.exitCode ?? child.signalCode}): ${this.#log}`);
    }
  }

  /**
   * Stops the server, keeping its data (fast shutdown: SIGINT ends every session, as a restart or failover does to
   * clients). `resume` starts it again.
   */
  async halt(): Promise<void> {
    await this.#shutdown('SIGINT');
  }

  /**
   * SIGINT: fast shutdown (sessions ended, a checkpoint written). SIGQUIT: immediate shutdown, no checkpoint, for a
   * server whose data is deleted next: under load, a checkpoint of a run's worth of data can take longer than a
   * mocha hook may. SIGKILL after 10 s either way.
   */
  async #shutdown(signal: 'SIGINT' | 'SIGQUIT'): Promise<void> {
    if (!this.#running()) return;
    this.#process?.kill(signal);
    const killed = setTimeout(() => this.#process?.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(killed);
  }

  #running(): boolean {
    return this.#process !== undefined && this.#process.exitCode === null && this.#process.signalCode === null;
  }

  /** The server's process id (the postmaster). */
  get pid(): number {
    return this.#process?.pid ?? -1;
  }

  /** What the server printed so far (its log goes to stderr). */
  get log(): string {
    return this.#log;
  }

  /** `pg` client settings for a database of this server, over the Unix socket. */
  connection(database = 'postgres'): pg.ClientConfig {
    return { host: this.dir, port: this.port, user: POSTGRES_USER, password: POSTGRES_PASSWORD, database };
  }

  /** A URL of a database of this server over the Unix socket, without the password. */
  url(database = 'postgres'): string {
    return `postgresql://${POSTGRES_USER}@/${database}?host=${encodeURIComponent(this.dir)}&port=${this.port}`;
  }

  /**
   * A fresh database (one per test keeps tests apart without a server per test): empty, or a copy of `template`
   * (which must have no open connection). Returns its name.
   */
  async createDatabase(prefix = 'test', template?: string): Promise<string> {
    this.#databases += 1;
    const name = `${prefix}_${this.#databases}`;
    const client = new pg.Client(this.connection());
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}${template === undefined ? '' : ` TEMPLATE ${template}`}`);
    } finally {
      await client.end();
    }
    return name;
  }

  /** Immediate shutdown (its data is not kept), then deletes the folder. Stopping twice is not an error. */
  async stop(): Promise<void> {
    await this.#shutdown('SIGQUIT');
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** For the exit hook: synchronous, no waiting (a server still dying may write a file: retry the removal). */
  killNow(): void {
    if (this.#running()) this.#process?.kill('SIGKILL');
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch {
      // Nothing more can be done on the way out.
    }
  }
}

const running = new Set<PostgresServer>();
process.once('exit', () => {
  for (const server of running) server.killNow();
});

/**
 * How to run a PostgreSQL binary: as Debian's `postgres` user through `setpriv` when we are root (it execs, so the
 * child's pid is the server's own), directly otherwise.
 */
function runAs(): { command: string; prefix: string[]; uid: number | undefined; gid: number } {
  if (userInfo().uid !== 0) return { command: 'env', prefix: [], uid: undefined, gid: 0 };
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0 || gid.status !== 0) {
    throw new Error('starting PostgreSQL as root needs the postgres user (apt-get install postgresql)');
  }
  return {
    command: 'setpriv',
    prefix: [`--reuid=${id.stdout.trim()}`, `--regid=${gid.stdout.trim()}`, '--init-groups', '--'],
    uid: Number(id.stdout.trim()),
    gid: Number(gid.stdout.trim()),
  };
}
