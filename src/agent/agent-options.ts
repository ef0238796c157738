import { hostname } from 'node:os';
import { ValidationError } from '../core/errors.ts';
import type { Resources } from '../core/resources.ts';
import type { Logger } from '../log/logger.ts';
import type { IsolationSettings } from './isolation/create-isolation.ts';
import { DEFAULT_BACKOFF, type Backoff } from './retry.ts';
import { METADATA_URL_ENV } from './spot-watcher.ts';

export interface AgentOptions {
  /**
   * The controller's URL, e.g. `http://127.0.0.1:7070`; or every controller of the cluster (replicas on one database):
   * the agent stays with one while it answers and moves to the next when it does not (see ApiClient). The first is
   * the audience of a cloud instance's identity token.
   */
  readonly url: string | readonly string[];
  /** An agent-role registration token, or a bootstrap credential on a cloud instance. */
  readonly token: string;
  readonly capacity: Resources;
  readonly labels: Readonly<Record<string, string>>;
  /** Default: the instance id when there is one (local instances share a host name), else `os.hostname()`. */
  readonly name?: string;
  /** The provider's instance id, on cloud instances (the local provider sets env SPILLWAY_INSTANCE_ID). */
  readonly instanceId?: string;
  /** The private site, for private agents. */
  readonly site?: string;
  /** PEM CA bundle that verifies the controller's certificate. */
  readonly ca?: string;
  readonly logger: Logger;
  /** How long `stop` lets running tasks finish before it kills and hands them back; default 30 s. */
  readonly drainTimeoutMs?: number;
  /** How much of each task's combined output is kept and reported; default 8192 bytes, at most 65536. */
  readonly outputTailBytes?: number;
  /** How long registration is retried before the agent gives up; default 10 min. */
  readonly registerTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL when a task is killed; default 5 s. */
  readonly killGraceMs?: number;
  /** How often changed output is reported; default 2 s. */
  readonly outputReportIntervalMs?: number;
  /** How long `stop` waits for undelivered reports, and separately for leave, before it gives up; default 10 s. */
  readonly shutdownTimeoutMs?: number;
  /** Backoff of every retried call; default 500 ms doubling to 30 s. */
  readonly backoff?: Backoff;
  /**
   * How tasks are isolated when the agent runs as root (uid range, pids limit, folders). Without root, tasks run as
   * the agent's user (`isolation: none`) and start from `isolation.env` (default this process's environment) without
   * its Spillway credentials.
   */
  readonly isolation?: IsolationSettings;
  /**
   * The cloud metadata service to watch for spot interruption notices (IMDSv2), on spot instances only (labels
   * `spillway.io/lifecycle=spot`); default env SPILLWAY_METADATA_URL, which the EC2 boot script sets. Unset: no watch.
   */
  readonly metadataUrl?: string;
  /** How often the spot watcher looks; default 5 s. */
  readonly spotPollIntervalMs?: number;
}

/** AgentOptions with every default filled in and every value checked. */
export interface ResolvedAgentOptions
  extends Required<Omit<AgentOptions, 'instanceId' | 'site' | 'ca' | 'isolation' | 'metadataUrl'>> {
  /** `url` as a list, in the order given. */
  readonly urls: readonly string[];
  readonly metadataUrl: string | undefined;
  readonly instanceId: string | undefined;
  readonly site: string | undefined;
  readonly ca: string | undefined;
  readonly isolation: IsolationSettings;
}

/** The controller refuses larger output tails (src/api/schemas.ts). */
const MAX_OUTPUT_TAIL_BYTES = 65_536;

/** Fills in the defaults; throws a ValidationError naming the first bad option. */
export function resolveAgentOptions(opts: AgentOptions): ResolvedAgentOptions {
  const urls = typeof opts.url === 'string' ? [opts.url] : opts.url;
  if (urls.length === 0 || urls.some((u) => !u)) {
    throw new ValidationError('url', 'expected the controller URL (or several), got an empty one');
  }
  if (!opts.token) throw new ValidationError('token', 'expected a token, got an empty string');
  const outputTailBytes = nonNegative('outputTailBytes', opts.outputTailBytes, 8_192);
  if (!Number.isInteger(outputTailBytes) || outputTailBytes < 1 || outputTailBytes > MAX_OUTPUT_TAIL_BYTES) {
    throw new ValidationError(
      'outputTailBytes',
      `expected an integer from 1 to ${MAX_OUTPUT_TAIL_BYTES}, got ${outputTailBytes}`,
    );
  }
  return {
    ...opts,
    urls,
    name: opts.name ?? opts.instanceId ?? hostname(),
    instanceId: opts.instanceId,
    site: opts.site,
    ca: opts.ca,
    isolation: opts.isolation ?? {},
    drainTimeoutMs: nonNegative('drainTimeoutMs', opts.drainTimeoutMs, 30_000),
    outputTailBytes,
    registerTimeoutMs: nonNegative('registerTimeoutMs', opts.registerTimeoutMs, 600_000),
    killGraceMs: nonNegative('killGraceMs', opts.killGraceMs, 5_000),
    outputReportIntervalMs: nonNegative('outputReportIntervalMs', opts.outputReportIntervalMs, 2_000),
    shutdownTimeoutMs: nonNegative('shutdownTimeoutMs', opts.shutdownTimeoutMs, 10_000),
    backoff: opts.backoff ?? DEFAULT_BACKOFF,
    metadataUrl: opts.metadataUrl ?? (process.env[METADATA_URL_ENV] || undefined),
    spotPollIntervalMs: nonNegative('spotPollIntervalMs', opts.spotPollIntervalMs, 5_000),
  };
}

function nonNegative(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new ValidationError(field, `expected a non-negative number, got ${String(value)}`);
  }
  return value;
}
