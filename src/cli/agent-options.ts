import type { IsolationSettings } from '../agent/isolation/create-isolation.ts';
import { parseUidRange } from '../agent/isolation/uid-range.ts';
import { ValidationError } from '../core/errors.ts';
import { parseCpuMillis, parseMemoryMiB, type Resources } from '../core/resources.ts';
import { readCa, readFlagFile } from './connection.ts';
import type { CliContext } from './context.ts';
import { parseIntFlag, parseLabels, parseNameFlag } from './flags.ts';

/** The flags of `spillway agent`, as commander hands them over. */
export interface AgentFlags {
  readonly url?: string;
  readonly cpu?: string;
  readonly memory?: string;
  readonly gpus?: string;
  readonly netMbps?: string;
  readonly labels?: string;
  readonly name?: string;
  readonly site?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
  readonly drainTimeoutMs?: string;
  readonly metadataUrl?: string;
  readonly taskUids?: string;
  readonly taskPidsLimit?: string;
  readonly taskFolderRoot?: string;
  readonly taskFolderKeepMs?: string;
  /** Present only to refuse it with a reason (see agentOptionsFromFlags). */
  readonly token?: string;
}

/** What the machine has, for the capacity defaults. */
export interface MachineFacts {
  readonly cpus: number;
  readonly totalMemoryBytes: number;
}

/** A network allowance an agent advertises when --net-mbps is not given. */
export const DEFAULT_AGENT_NET_MBPS = 1_000;
/** The share of the machine's memory an agent offers by default, leaving room for the system. */
export const DEFAULT_MEMORY_SHARE = 0.8;

/** AgentOptions of src/agent/agent.ts without the logger, which the command adds. */
export interface AgentSettings {
  /** One controller URL, or every controller of the cluster. */
  readonly url: string | readonly string[];
  readonly token: string;
  readonly capacity: Resources;
  readonly labels: Record<string, string>;
  readonly name?: string;
  readonly instanceId?: string;
  readonly site?: string;
  readonly ca?: string;
  readonly drainTimeoutMs?: number;
  /** The cloud metadata service whose spot or preemption notice the agent watches. */
  readonly metadataUrl?: string;
  readonly isolation?: IsolationSettings;
}

/**
 * Validates the agent's flags and environment into its settings. The credential comes from --token-file or
 * SPILLWAY_TOKEN only: a command line is visible to every user of the machine (`ps`), so there is no --token.
 */
export function agentOptionsFromFlags(
  flags: AgentFlags,
  ctx: Pick<CliContext, 'env' | 'cwd'>,
  machine: MachineFacts,
): AgentSettings {
  if (flags.token !== undefined) {
    throw new ValidationError(
      '--token',
      '`spillway agent` takes no token on its command line, where every user of the machine can read it; ' +
        'set SPILLWAY_TOKEN or pass --token-file FILE',
    );
  }
  const url = flags.url ?? ctx.env.SPILLWAY_URL;
  if (url === undefined || url.trim() === '') {
    throw new ValidationError('--url', 'give the controller URL with --url or SPILLWAY_URL');
  }
  // Several controllers of one cluster (replicas on PostgreSQL), comma-separated: the agent moves to the next when
  // one stops answering.
  const urls = url.split(',').map((u) => u.trim());
  for (const one of urls) {
    if (!/^https?:\/\/[^\s/,]+/.test(one)) {
      throw new ValidationError(
        flags.url === undefined ? 'SPILLWAY_URL' : '--url',
        `expected an http:// or https:// URL (or several, comma-separated), got ${JSON.stringify(one)}`,
      );
    }
  }

  const token = (
    flags.tokenFile !== undefined ? readFlagFile('--token-file', flags.tokenFile, ctx) : (ctx.env.SPILLWAY_TOKEN ?? '')
  ).trim();
  if (token === '') {
    throw new ValidationError(
      flags.tokenFile !== undefined ? '--token-file' : 'SPILLWAY_TOKEN',
      flags.tokenFile !== undefined
        ? `${JSON.stringify(flags.tokenFile)} is empty`
        : 'no agent credential: set SPILLWAY_TOKEN or pass --token-file FILE (an `agent` role token, see `spillway token create`)',
    );
  }

  const cpuMillis = flags.cpu === undefined ? machine.cpus * 1000 : parseCpuMillis(flags.cpu, '--cpu');
  if (cpuMillis <= 0) throw new ValidationError('--cpu', `expected more than 0 CPU, got ${JSON.stringify(flags.cpu)}`);
  const memoryMiB =
    flags.memory === undefined
      ? Math.floor((machine.totalMemoryBytes * DEFAULT_MEMORY_SHARE) / (1024 * 1024))
      : parseMemoryMiB(flags.memory, '--memory');
  if (memoryMiB <= 0)
    throw new ValidationError('--memory', `expected more than 0 memory, got ${JSON.stringify(flags.memory)}`);
  const capacity: Resources = {
    cpuMillis,
    memoryMiB,
    gpus: flags.gpus === undefined ? 0 : parseIntFlag('--gpus', flags.gpus, { min: 0, max: 64 }),
    netMbps:
      flags.netMbps === undefined ? DEFAULT_AGENT_NET_MBPS : parseIntFlag('--net-mbps', flags.netMbps, { min: 0 }),
  };

  const settings: { -readonly [K in keyof AgentSettings]: AgentSettings[K] } = {
    url: urls.length === 1 ? urls[0]! : urls,
    token,
    capacity,
    labels: flags.labels === undefined ? {} : parseLabels('--labels', flags.labels),
  };
  if (flags.name !== undefined) settings.name = parseNameFlag('--name', flags.name);
  if (flags.site !== undefined) settings.site = parseNameFlag('--site', flags.site);
  const instanceId = ctx.env.SPILLWAY_INSTANCE_ID?.trim();
  if (instanceId) settings.instanceId = instanceId;
  const ca = readCa(flags.caFile, ctx);
  if (ca !== undefined) settings.ca = ca;
  if (flags.drainTimeoutMs !== undefined) {
    settings.drainTimeoutMs = parseIntFlag('--drain-timeout-ms', flags.drainTimeoutMs, { min: 0 });
  }
  if (flags.metadataUrl !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(flags.metadataUrl)) {
      throw new ValidationError('--metadata-url', `expected an http:// URL, got ${JSON.stringify(flags.metadataUrl)}`);
    }
    settings.metadataUrl = flags.metadataUrl;
  }
  settings.isolation = isolationFromFlags(flags, ctx);
  return settings;
}

/** `agent.taskUids` and the other isolation settings, from flags or their environment variables. */
function isolationFromFlags(flags: AgentFlags, ctx: Pick<CliContext, 'env'>): IsolationSettings {
  const isolation: { -readonly [K in keyof IsolationSettings]: IsolationSettings[K] } = {};
  const uids = flags.taskUids ?? ctx.env.SPILLWAY_TASK_UIDS;
  if (uids !== undefined) {
    isolation.taskUids = parseUidRange(uids, flags.taskUids === undefined ? 'SPILLWAY_TASK_UIDS' : '--task-uids');
  }
  if (flags.taskPidsLimit !== undefined) {
    isolation.pidsLimit = parseIntFlag('--task-pids-limit', flags.taskPidsLimit, { min: 1, max: 4_194_304 });
  }
  if (flags.taskFolderRoot !== undefined) {
    if (!flags.taskFolderRoot.startsWith('/')) {
      throw new ValidationError('--task-folder-root', `expected an absolute path, got ${JSON.stringify(flags.taskFolderRoot)}`);
    }
    isolation.folderRoot = flags.taskFolderRoot;
  }
  if (flags.taskFolderKeepMs !== undefined) {
    isolation.keepFolderMs = parseIntFlag('--task-folder-keep-ms', flags.taskFolderKeepMs, { min: 0 });
  }
  return isolation;
}
