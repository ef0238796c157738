import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * Separate machines on one host, for the high-availability tests: a bridge with two host addresses and network
 * namespaces that each take one address on it. A namespace cannot reach the host's loopback, so everything the
 * "machines" share listens on the bridge: the database on `databaseAddress`, the host's own clients (agents, the
 * test) reach each namespace's address from `hostAddress`.
 *
 * Cutting a namespace's link to the database (`cut`) adds a blackhole route to `databaseAddress` inside that
 * namespace only: its controller loses the database while the others keep theirs, and agents still reach it, since
 * they come from the other host address. Needs root and iproute2. Names are fixed (`spwha0`, `spwha-<n>`), distinct
 * from the Slurm tests' (`spwbr0`, `spw-node-<n>`), and `create` first removes what a crashed earlier run left.
 */
export class NetnsLab {
  static readonly bridge = 'spwha0';
  static readonly subnet = '192.168.78';
  readonly hostAddress = `${NetnsLab.subnet}.1`;
  readonly databaseAddress = `${NetnsLab.subnet}.2`;
  /** The network the namespaces are on, as PostgreSQL's pg_hba takes it. */
  readonly cidr = `${NetnsLab.subnet}.0/24`;
  readonly namespaces: readonly string[];

  private constructor(namespaces: readonly string[]) {
    this.namespaces = namespaces;
  }

  /** Builds the bridge and `count` namespaces; throws with iproute2's message when it cannot (not root?). */
  static create(count: number): NetnsLab {
    removeLeftovers();
    const lab = new NetnsLab(Array.from({ length: count }, (_, i) => `spwha-${i + 1}`));
    try {
      ip('link', 'add', NetnsLab.bridge, 'type', 'bridge');
      ip('addr', 'add', `${lab.hostAddress}/24`, 'dev', NetnsLab.bridge);
      ip('addr', 'add', `${lab.databaseAddress}/24`, 'dev', NetnsLab.bridge);
      ip('link', 'set', NetnsLab.bridge, 'up');
      lab.namespaces.forEach((ns, i) => {
        const veth = `spwhav${i + 1}`;
        ip('netns', 'add', ns);
        ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        ip('link', 'set', veth, 'master', NetnsLab.bridge, 'up');
        ip('-n', ns, 'addr', 'add', `${lab.address(ns)}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
      });
    } catch (err) {
      lab.remove();
      throw err;
    }
    return lab;
  }

  /** The address of namespace `ns` on the bridge. */
  address(ns: string): string {
    const i = this.namespaces.indexOf(ns);
    if (i < 0) throw new Error(`no namespace ${ns} in this lab`);
    return `${NetnsLab.subnet}.${11 + i}`;
  }

  /** Starts `file args` inside namespace `ns` (as `ip netns exec` does: the same filesystem, its own network). */
  spawn(ns: string, file: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    this.address(ns);
    return spawn('ip', ['netns', 'exec', ns, file, ...args], opts);
  }

  /** Namespace `ns` can no longer reach the database; everything else it reaches still. */
  cut(ns: string): void {
    ip('-n', ns, 'route', 'add', 'blackhole', `${this.databaseAddress}/32`);
  }

  /** Undoes `cut`. Healing a link that was not cut is not an error. */
  heal(ns: string): void {
    spawnSync('ip', ['-n', ns, 'route', 'del', 'blackhole', `${this.databaseAddress}/32`], { stdio: 'ignore' });
  }

  /** Deletes the namespaces (their veths go with them) and the bridge. Removing twice is not an error. */
  remove(): void {
    removeLeftovers();
  }
}

function removeLeftovers(): void {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of listed.split('\n')) {
    const ns = line.split(' ')[0];
    if (ns?.startsWith('spwha-')) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
  spawnSync('ip', ['link', 'del', NetnsLab.bridge], { stdio: 'ignore' });
  // A namespace outlives its mount while something still holds it (sockets closing), and its veth with it: a
  // host-side veth left so would make the next `create` fail with "File exists".
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const match of links.matchAll(/^\d+: (spwhav\d+)[@:]/gm)) {
    spawnSync('ip', ['link', 'del', match[1]!], { stdio: 'ignore' });
  }
}

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`ip ${args.join(' ')} failed: ${(result.stderr || result.error?.message || '').trim()}`);
  }
}
