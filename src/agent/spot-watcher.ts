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

/** What GCE's metadata server announces: a Spot VM's `instance/preempted` turns TRUE about 30 s before it stops. */
const GCE_PREEMPTION_NOTICE_MS = 30_000;
/** How long one `wait_for_change` request may hang at the metadata server before it is asked again. */
const GCE_WAIT_TIMEOUT_SEC = 60;

/**
 * Watches GCE's metadata server until the Spot VM is preempted (then calls `onNotice` once, action `preempt`, time 30 s
 * ahead, and resolves) or the signal aborts (then resolves). Reads `instance/preempted` with `Metadata-Flavor: Google`,
 * then hangs on `?wait_for_change=true&last_etag=...`, so the notice arrives the moment GCE sets it. Failures are
 * logged and retried after `pollIntervalMs`; the watch never throws. `metadataUrl` is the server's base URL
 * (`http://metadata.google.internal`, or the emulator's).
 */
export async function watchGcePreemption(opts: SpotWatcherOptions): Promise<void> {
  const base = opts.metadataUrl.replace(/\/+$/, '');
  const retryMs = opts.pollIntervalMs ?? 5_000;
  const timeoutMs = opts.requestTimeoutMs ?? 2_000;
  let etag: string | undefined;
  let failures = 0;
  opts.logger.info('watching for preemption', { metadataUrl: base });
  while (!opts.signal.aborted) {
    try {
      const query =
        etag === undefined
          ? ''
          : `?wait_for_change=true&last_etag=${encodeURIComponent(etag)}&timeout_sec=${GCE_WAIT_TIMEOUT_SEC}`;
      const res = await fetch(`${base}/computeMetadata/v1/instance/preempted${query}`, {
        headers: { 'Metadata-Flavor': 'Google' },
        signal: AbortSignal.any([
          opts.signal,
          AbortSignal.timeout(etag === undefined ? timeoutMs : GCE_WAIT_TIMEOUT_SEC * 1000 + timeoutMs),
        ]),
      });
      const body = (await res.text()).trim();
      if (res.status !== 200) throw new Error(`the metadata server answered ${res.status} for instance/preempted`);
      if (body === 'TRUE') {
        const notice = { action: 'preempt', timeMs: Date.now() + GCE_PREEMPTION_NOTICE_MS };
        opts.logger.warn('received preemption notice', { at: new Date(notice.timeMs).toISOString() });
        opts.onNotice(notice);
        return;
      }
      etag = res.headers.get('etag') ?? '';
      failures = 0;
      continue;
    } catch (err) {
      if (opts.signal.aborted) return;
      failures++;
      etag = undefined;
      if (failures === 1 || failures % 10 === 0) {
        opts.logger.warn('failed to read instance/preempted', { failures, error: errorMessage(err) });
      }
    }
    await systemClock.sleep(retryMs, { signal: opts.signal }).catch(() => undefined);
  }
}

/** The watch for a cloud agent's provider (`gcp-compute:...` watches GCE's metadata server, anything else EC2's). */
export function interruptionWatcherFor(providerId: string | undefined): (opts: SpotWatcherOptions) => Promise<void> {
  return providerId?.startsWith('gcp-compute') ? watchGcePreemption : watchSpotInterruption;
}
