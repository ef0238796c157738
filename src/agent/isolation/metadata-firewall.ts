import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import type { Logger } from '../../log/logger.ts';
import type { UidRange } from './uid-range.ts';

/** The cloud metadata addresses (EC2's IPv4 and IPv6, GCE's `metadata.google.internal`): blocked on every port. */
export const CLOUD_METADATA_ADDRESSES = ['169.254.169.254', 'fd00:ec2::254'] as const;

/**
 * One address, and a port when only that service of the address is the metadata service (a loopback emulator). The
 * address `loopback` means every address of this machine (whatever reaches it through the loopback interface: all of
 * 127.0.0.0/8, ::1 and the machine's own addresses), in both families: a service on loopback may listen on any of them.
 */
export interface BlockedEndpoint {
  readonly address: string;
  readonly port?: number;
}

/** The BlockedEndpoint address that stands for every address of this machine. */
export const LOOPBACK = 'loopback';

const CHAIN_PREFIX = 'SPILLWAY-META-';

/**
 * Keeps tasks away from the cloud metadata service, which holds the launch's user data (the bootstrap credential)
 * and the instance role's tokens: packet filter rules (iptables, `-m owner --uid-owner FIRST-LAST`) reject every
 * connection a task uid opens to a metadata endpoint. The rules live in a chain of this agent's own
 * (`SPILLWAY-META-<pid>`) jumped to from OUTPUT, so they touch no other process and are removed when the agent
 * exits; chains of agents that died without removing theirs are removed at start. A task of a team the policy lets
 * reach metadata gets a RETURN rule for its own uid while it runs.
 */
export class MetadataFirewall {
  readonly #chain = `${CHAIN_PREFIX}${process.pid}`;
  readonly #endpoints: readonly BlockedEndpoint[];
  readonly #range: UidRange;
  readonly #logger: Logger;
  /** The address families whose rules are in place; none before `install` and after `remove`. */
  #families: readonly Family[] = [];
  readonly #onExit = (): void => this.remove();

  constructor(opts: { endpoints: readonly BlockedEndpoint[]; taskUids: UidRange; logger: Logger }) {
    this.#endpoints = opts.endpoints;
    this.#range = opts.taskUids;
    this.#logger = opts.logger;
  }

  /**
   * Installs the rules, each address family on its own: when one cannot be used (no `ip6tables`, IPv6 off in the
   * kernel) the other still holds, and the failure is logged. Returns false (and logs why, once) when neither can:
   * no iptables binary, or no permission; the agent then runs on with the reason in its log.
   */
  install(): boolean {
    const failures: string[] = [];
    const families: Family[] = [];
    for (const family of FAMILIES) {
      try {
        removeStaleChains(family);
        const endpoints = this.#endpoints.filter(
          (e) => e.address === LOOPBACK || (isIP(e.address) === 6) === (family === 'ip6tables'),
        );
        ipt(family, ['-N', this.#chain]);
        for (const e of endpoints) {
          const port = e.port === undefined ? [] : ['-p', 'tcp', '--dport', String(e.port)];
          const reject = family === 'iptables' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
          const where = e.address === LOOPBACK ? ['-o', 'lo'] : ['-d', e.address];
          ipt(family, ['-A', this.#chain, ...where, ...port, '-m', 'owner', '--uid-owner',
            `${this.#range.first}-${this.#range.last}`, '-j', 'REJECT', '--reject-with', reject]);
        }
        ipt(family, ['-I', 'OUTPUT', '1', '-j', this.#chain]);
        families.push(family);
      } catch (err) {
        removeChain(family, this.#chain);
        failures.push(`${family}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (families.length === 0) {
      this.#logger.warn('could not block the metadata service for task uids', { error: failures.join('; ') });
      return false;
    }
    if (failures.length > 0) {
      this.#logger.warn('blocked the metadata service for task uids in one address family only', {
        error: failures.join('; '),
      });
    }
    this.#families = families;
    process.on('exit', this.#onExit);
    this.#logger.info('blocked the metadata service for task uids', {
      endpoints: this.#endpoints.map((e) => (e.port === undefined ? e.address : `${e.address}:${e.port}`)),
      taskUids: `${this.#range.first}-${this.#range.last}`,
      families,
    });
    return true;
  }

  /** Lets one task uid reach the metadata service (its team is allowed by the policy) until `forbid`. */
  allow(uid: number): void {
    for (const family of this.#families) {
      ipt(family, ['-I', this.#chain, '1', '-m', 'owner', '--uid-owner', String(uid), '-j', 'RETURN']);
    }
  }

  forbid(uid: number): void {
    for (const family of this.#families) {
      tryIpt(family, ['-D', this.#chain, '-m', 'owner', '--uid-owner', String(uid), '-j', 'RETURN']);
    }
  }

  /** Removes this agent's rules. Synchronous (it runs in the process `exit` handler); idempotent. */
  remove(): void {
    process.off('exit', this.#onExit);
    for (const family of FAMILIES) removeChain(family, this.#chain);
    this.#families = [];
  }
}

const FAMILIES = ['iptables', 'ip6tables'] as const;
type Family = (typeof FAMILIES)[number];

function ipt(family: Family, args: readonly string[]): string {
  // -w: wait for the xtables lock rather than fail when another agent changes rules at the same moment.
  return execFileSync(family, ['-w', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryIpt(family: Family, args: readonly string[]): void {
  try {
    ipt(family, args);
  } catch {
    // Already gone.
  }
}

function removeChain(family: Family, chain: string): void {
  // A chain may be jumped to more than once if an install was interrupted: delete every jump.
  for (let i = 0; i < 10; i++) {
    try {
      ipt(family, ['-D', 'OUTPUT', '-j', chain]);
    } catch {
      break;
    }
  }
  tryIpt(family, ['-F', chain]);
  tryIpt(family, ['-X', chain]);
}

/** Chains of agents whose process is gone. */
function removeStaleChains(family: Family): void {
  const rules = ipt(family, ['-S']);
  for (const match of rules.matchAll(/^-N (SPILLWAY-META-(\d+))$/gm)) {
    const pid = Number(match[2]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code !== 'ESRCH';
    }
    if (!alive) removeChain(family, match[1]!);
  }
}

/** The endpoints to block for an agent whose metadata watcher uses `metadataUrl` (if any). */
export function metadataEndpoints(metadataUrl: string | undefined): BlockedEndpoint[] {
  const endpoints: BlockedEndpoint[] = CLOUD_METADATA_ADDRESSES.map((address) => ({ address }));
  if (metadataUrl !== undefined) {
    const url = new URL(metadataUrl);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    // A service on this machine (an emulator, a local proxy), named `localhost` (RFC 6761) or by a loopback address:
    // a task could reach the same listener through any other address of the machine, so its port on all of them.
    // Only that port, so the rest of loopback still works.
    if (LOCALHOST_NAME.test(host) || isLoopback(host)) endpoints.push({ address: LOOPBACK, port });
    else if (isIP(host) !== 0 && !endpoints.some((e) => e.address === host)) endpoints.push({ address: host, port });
  }
  return endpoints;
}

const LOCALHOST_NAME = /^(.+\.)?localhost\.?$/i;

function isLoopback(address: string): boolean {
  return (isIP(address) === 4 && address.startsWith('127.')) || address === '::1' || /^::ffff:127\./i.test(address);
}
