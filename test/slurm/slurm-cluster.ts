import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killAll } from '../helpers/processes.ts';
import { freePort } from '../e2e/harness.ts';
import { waitFor } from '../helpers/wait.ts';

const run = promisify(execFile);

/**
 * A real Slurm cluster on this machine for tests (Debian's Slurm 22.05, see shared/slurm/FINDINGS.md): its own munged
 * and slurmctld with a fresh state folder, static "private" slurmds on loopback (distinct ports, MULTIPLE_SLURMD),
 * and a bridge with network namespaces that cloud nodes take one each (one address per dynamic node). Everything it
 * starts is stopped by pid in `stop()`; jobs are cancelled first, since a killed slurmd leaves its jobs running.
 */
export interface SlurmClusterOptions {
  /** Static private nodes: names and size. */
  readonly privateNodes: readonly { name: string; cpus: number; memoryMiB: number }[];
  /** FUTURE placeholders, one per cloud shape: name, size, features. */
  readonly placeholders: readonly { name: string; cpus: number; memoryMiB: number; features: readonly string[] }[];
  /** Network namespaces to make for cloud nodes. */
  readonly namespaces: number;
  /** Extra slurm.conf lines (partitions come after the nodes). */
  readonly partitions: readonly string[];
  /** Seconds before an unresponsive node is DOWN; default 6. */
  readonly slurmdTimeout?: number;
}

/** What has to be unique across runs on one machine: interface names are at most 15 bytes. */
const SUBNET = '192.168.77';
const BRIDGE = 'spwbr0';

export class SlurmCluster {
  readonly dir: string;
  readonly slurmConf: string;
  readonly mungeSocket: string;
  readonly mungeKeyFile: string;
  readonly jobcompFile: string;
  readonly namespaces: string[] = [];
  readonly netnsLock: string;
  readonly controllerAddress = `${SUBNET}.1`;
  ctldPort = 0;
  readonly #children: ChildProcess[] = [];
  readonly #veths: string[] = [];
  readonly #opts: SlurmClusterOptions;
  readonly #runDir: string;

  constructor(opts: SlurmClusterOptions) {
    this.#opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), 'spillway-slurm-'));
    chmodSync(this.dir, 0o755);
    // The socket lives under /run, so that a cloud node's own /run (a tmpfs in its mount namespace) can hold its
    // own munged at the same path slurm.conf names.
    this.#runDir = `/run/spw-munge-${process.pid}`;
    this.mungeSocket = join(this.#runDir, 'munge.sock');
    this.mungeKeyFile = join(this.dir, 'munge', 'munge.key');
    this.slurmConf = join(this.dir, 'etc', 'slurm.conf');
    this.jobcompFile = join(this.dir, 'log', 'jobcomp.log');
    this.netnsLock = join(this.dir, 'netns.lock');
  }

  /** Environment for Slurm's commands (sbatch, squeue, scontrol) against this cluster. */
  env(): NodeJS.ProcessEnv {
    return { ...process.env, SLURM_CONF: this.slurmConf };
  }

  async start(): Promise<void> {
    for (const sub of ['etc', 'state/ctld', 'log', 'jobs', 'munge'])
      mkdirSync(join(this.dir, sub), { recursive: true });
    chmodSync(join(this.dir, 'munge'), 0o700);
    mkdirSync(this.#runDir, { recursive: true, mode: 0o755 });
    spawnSync('mungekey', ['--create', `--keyfile=${this.mungeKeyFile}`], { stdio: 'ignore' });
    this.#spawn('munged', [
      '-F',
      '--force',
      `--socket=${this.mungeSocket}`,
      `--key-file=${this.mungeKeyFile}`,
      `--log-file=${join(this.dir, 'log', 'munged.log')}`,
      `--pid-file=${join(this.dir, 'munge', 'munged.pid')}`,
      `--seed-file=${join(this.dir, 'munge', 'munged.seed')}`,
    ]);
    await waitFor('munged socket', () => existsSync(this.mungeSocket), { timeoutMs: 10_000, intervalMs: 50 });
    this.#makeNetwork();
    this.ctldPort = await freePort();
    writeFileSync(this.slurmConf, this.#conf());
    writeFileSync(this.jobcompFile, '');
    this.#spawn('slurmctld', ['-D', '-i', '-f', this.slurmConf], 'slurmctld');
    await waitFor('slurmctld to answer', async () => (await this.scontrol('ping')).includes('UP'), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    for (const node of this.#opts.privateNodes) {
      mkdirSync(join(this.dir, 'state', `slurmd-${node.name}`), { recursive: true });
      this.#spawn('slurmd', ['-D', '-f', this.slurmConf, '-N', node.name], `slurmd-${node.name}`);
    }
    await waitFor(
      'private nodes idle',
      async () => {
        const out = await this.command('sinfo', ['-h', '-N', '-o', '%N %T']);
        const idle = new Set(
          out
            .split('\n')
            .filter((l) => / idle$/.test(l))
            .map((l) => l.split(' ')[0]),
        );
        return this.#opts.privateNodes.every((n) => idle.has(n.name));
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  /** Runs a Slurm command against this cluster; resolves with stdout, rejects with stderr. */
  async command(cmd: string, args: readonly string[]): Promise<string> {
    const { stdout } = await run(cmd, [...args], { env: this.env(), cwd: join(this.dir, 'jobs'), timeout: 20_000 });
    return stdout;
  }

  scontrol(...args: string[]): Promise<string> {
    return this.command('scontrol', args);
  }

  /** `sbatch --parsable` with these arguments; returns the job id. */
  async sbatch(...args: string[]): Promise<string> {
    return (await this.command('sbatch', ['--parsable', ...args])).trim().split(';')[0]!;
  }

  /** A job's `scontrol show job` fields (JobState, NodeList, Reason, Comment, ...). */
  async job(jobId: string): Promise<Record<string, string>> {
    const text = await this.scontrol('show', 'job', '-o', jobId);
    const fields: Record<string, string> = {};
    for (const m of text.trim().matchAll(/(\w+)=(\S*)/g)) fields[m[1]!] = m[2]!;
    return fields;
  }

  /** Node name -> state (`idle`, `mixed`, `drained`, `down*`...), every node sinfo shows. */
  async nodeStates(): Promise<Map<string, string>> {
    const out = await this.command('sinfo', ['-h', '-N', '-o', '%N %T']);
    return new Map(
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ') as [string, string]),
    );
  }

  /** Cancels every job, waits for them to end, then stops every daemon it started and removes the network. */
  async stop(): Promise<void> {
    try {
      const ids = (await this.command('squeue', ['-h', '-o', '%i'])).split('\n').filter(Boolean);
      if (ids.length > 0) await this.command('scancel', ids);
      await waitFor('jobs to end', async () => (await this.command('squeue', ['-h', '-o', '%i'])).trim() === '', {
        timeoutMs: 20_000,
        intervalMs: 200,
      });
    } catch {
      // slurmctld may already be gone; the daemons are stopped below either way.
    }
    for (const child of [...this.#children].reverse()) if (child.exitCode === null) child.kill('SIGTERM');
    await waitFor('daemons to exit', () => this.#children.every((c) => c.exitCode !== null || c.signalCode !== null), {
      timeoutMs: 10_000,
      intervalMs: 50,
    }).catch(() => killAll(this.#children.flatMap((c) => (c.pid ? [c.pid] : []))));
    this.#removeNetwork();
    rmSync(this.#runDir, { recursive: true, force: true });
    if (!process.env.SPILLWAY_KEEP_SLURM) rmSync(this.dir, { recursive: true, force: true });
  }

  #spawn(cmd: string, args: readonly string[], logName = cmd): ChildProcess {
    const fd = openSync(join(this.dir, 'log', `${logName}.stdout`), 'a');
    try {
      const child = spawn(cmd, [...args], { env: this.env(), stdio: ['ignore', fd, fd] });
      child.on('error', () => undefined);
      this.#children.push(child);
      return child;
    } finally {
      closeSync(fd);
    }
  }

  #makeNetwork(): void {
    this.#removeNetwork();
    ip('link', 'add', BRIDGE, 'type', 'bridge');
    ip('addr', 'add', `${this.controllerAddress}/24`, 'dev', BRIDGE);
    ip('link', 'set', BRIDGE, 'up');
    writeFileSync(this.netnsLock, '');
    for (let i = 1; i <= this.#opts.namespaces; i++) {
      const ns = `spw-node-${i}`;
      const veth = `spwv${i}`;
      ip('netns', 'add', ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', veth, 'master', BRIDGE, 'up');
      ip('-n', ns, 'addr', 'add', `${SUBNET}.${10 + i}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      this.namespaces.push(ns);
      this.#veths.push(veth);
    }
  }

  /** Removes this harness's namespaces and bridge, and any a crashed earlier run left (same fixed names). */
  #removeNetwork(): void {
    const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
    for (const line of listed.split('\n')) {
      const ns = line.split(' ')[0];
      if (ns?.startsWith('spw-node-')) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
    spawnSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
  }

  #conf(): string {
    const o = this.#opts;
    const d = this.dir;
    const host = hostname().split('.')[0];
    const lines = [
      'ClusterName=spillway-test',
      `SlurmctldHost=${host}(${this.controllerAddress})`,
      `SlurmctldPort=${this.ctldPort}`,
      'SlurmdPort=6818',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${this.mungeSocket}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${d}/state/ctld`,
      `SlurmdSpoolDir=${d}/state/slurmd-%n`,
      `SlurmctldPidFile=${d}/state/slurmctld.pid`,
      `SlurmdPidFile=${d}/state/slurmd-%n.pid`,
      `SlurmctldLogFile=${d}/log/slurmctld.log`,
      `SlurmdLogFile=${d}/log/slurmd-%n.log`,
      'SlurmctldDebug=info',
      'SlurmdDebug=info',
      'MailProg=/bin/true',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/filetxt',
      `JobCompLoc=${this.jobcompFile}`,
      'MpiDefault=none',
      'SwitchType=switch/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU_Memory',
      'ReturnToService=2',
      `SlurmdTimeout=${o.slurmdTimeout ?? 6}`,
      'MinJobAge=600',
      'DefMemPerCPU=100',
      'SchedulerParameters=bf_interval=1,sched_min_interval=500000',
      'MaxNodeCount=64',
      'TreeWidth=65533',
      'SlurmctldParameters=enable_configless',
      ...o.privateNodes.map(
        (n, i) =>
          `NodeName=${n.name} NodeHostname=${host} NodeAddr=127.0.0.1 Port=${17001 + i} CPUs=${n.cpus} ` +
          `RealMemory=${n.memoryMiB} Feature=private State=UNKNOWN`,
      ),
      ...o.placeholders.map(
        (p) =>
          `NodeName=${p.name} State=FUTURE CPUs=${p.cpus} RealMemory=${p.memoryMiB} Feature=${p.features.join(',')}`,
      ),
      ...o.partitions,
    ];
    return `${lines.join('\n')}\n`;
  }
}

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr}`);
}
