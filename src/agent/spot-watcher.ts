import { systemClock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../log/logger.ts';

/** The metadata address an EC2 instance reaches its metadata service at. */
export const EC2_METADATA_URL = 'http://169.254.169.254';

/** Names the metadata service to watch (set by the EC2 boot script, or by the emulator in tests). */
export const METADATA_URL_ENV = 'SPILLWAY_METADATA_URL';

/** What `spot/instance-action` announces: EC2 will stop or terminate the instance at `timeMs`. */
export interface SpotNotice {
  readonly action: string;
  readonly timeMs: number;
}

export interface SpotWatcherOptions {
  /** The metadata service's base URL, e.g. `http://169.254.169.254`. */
  readonly metadataUrl: string;
  /** Called once, with the first notice seen. */
  readonly onNotice: (notice: SpotNotice) => void;
  readonly logger: Logger;
  /** Ends the watch. */
  readonly signal: AbortSignal;
  /** How often to look; default 5 s (AWS's advice; the notice comes two minutes ahead). */
  readonly pollIntervalMs?: number;
  /** Per request; default 2 s. */
  readonly requestTimeoutMs?: number;
}

/** Session tokens live six hours; a new one is asked for a minute before the old one ends. */
const TOKEN_TTL_SECONDS = 21_600;
const TOKEN_RENEW_MARGIN_MS = 60_000;

/**
 * Watches IMDSv2's `spot/instance-action` until it announces an interruption (then calls `onNotice` once and
 * resolves) or the signal aborts (then resolves). IMDSv2: a session token from `PUT /latest/api/token`, sent with
 * every read; a 401 gets a new token. 404 means no interruption is scheduled. Failures are logged and retried at the
 * next poll; the watch never throws.
 */
export async function watchSpotInterruption(opts: SpotWatcherOptions): Promise<void> {
  const base = opts.metadataUrl.replace(/\/+$/, '');
  const pollMs = opts.pollIntervalMs ?? 5_000;
  const timeoutMs = opts.requestTimeoutMs ?? 2_000;
  let token: { value: string; renewAtMs: number } | undefined;
  let failures = 0;
  opts.logger.info('watching for spot interruptions', { metadataUrl: base, pollIntervalMs: pollMs });
  while (!opts.signal.aborted) {
    try {
      if (!token || Date.now() >= token.renewAtMs) {
        const res = await fetch(`${base}/latest/api/token`, {
          method: 'PUT',
          headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) },
          signal: AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]),
        });
        if (!res.ok) throw new Error(`the metadata service answered ${res.status} for a session token`);
        token = {
          value: (await res.text()).trim(),
          renewAtMs: Date.now() + TOKEN_TTL_SECONDS * 1000 - TOKEN_RENEW_MARGIN_MS,
        };
      }
      const res = await fetch(`${base}/latest/meta-data/spot/instance-action`, {
        headers: { 'X-aws-ec2-metadata-token': token.value },
        signal: AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]),
      });
      if (res.status === 200) {
        const notice = parseNotice(await res.text());
        opts.logger.warn('received spot interruption notice', {
          action: notice.action,
          at: new Date(notice.timeMs).toISOString(),
        });
        opts.onNotice(notice);
        return;
      }
      await res.body?.cancel();
      if (res.status === 401) token = undefined;
      else if (res.status !== 404)
        throw new Error(`the metadata service answered ${res.status} for spot/instance-action`);
      failures = 0;
    } catch (err) {
      if (opts.signal.aborted) return;
      failures++;
      // The first failure and then every tenth: a missing metadata service should not fill the log.
      if (failures === 1 || failures % 10 === 0) {
        opts.logger.warn('failed to read spot/instance-action', { failures, error: errorMessage(err) });
      }
    }
    await systemClock.sleep(pollMs, { signal: opts.signal }).catch(() => undefined);
  }
}

/** `{"action": "terminate", "time": "2026-01-01T00:02:00Z"}`; an unreadable body still counts as a notice, now. */
function parseNotice(body: string): SpotNotice {
  try {
    const parsed = JSON.parse(body) as { action?: unknown; time?: unknown };
    const timeMs = typeof parsed.time === 'string' ? Date.parse(parsed.time) : Number.NaN;
    return {
      action: typeof parsed.action === 'string' ? parsed.action : 'terminate',
      timeMs: Number.isNaN(timeMs) ? Date.now() : timeMs,
    };
  } catch {
    return { action: 'terminate', timeMs: Date.now() };
  }
}
