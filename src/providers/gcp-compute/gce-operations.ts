import type { Clock } from '../../core/clock.ts';
import { ProviderError } from '../../core/errors.ts';
import type { GceApi, GceOperation } from './gce-api.ts';
import { GceOperationFailed } from './gce-errors.ts';
import type { GceRateLimiter } from './gce-rate-limits.ts';

export interface OperationWait {
  readonly api: GceApi;
  readonly limiter: GceRateLimiter;
  readonly clock: Clock;
  readonly project: string;
  readonly zone: string;
  /** How long, on the clock, before the wait gives up with a retryable error (the retry waits on the same operation). */
  readonly timeoutMs: number;
  /** What the operation does, for messages. */
  readonly doing: string;
  readonly signal: AbortSignal | undefined;
}

/**
 * Waits until a zone operation is DONE, through `zoneOperations.wait` (which itself answers when the operation is done
 * or after about two minutes), each wait within the operation-read bucket. Throws GceOperationFailed when it finished
 * with errors (stockouts and quotas arrive this way), and a retryable ProviderError when it is still running after
 * `timeoutMs`.
 */
export async function waitForOperation(operation: GceOperation, w: OperationWait): Promise<GceOperation> {
  const startMs = w.clock.now();
  let op = operation;
  while (op.status !== 'DONE') {
    if (w.clock.now() - startMs > w.timeoutMs) {
      throw new ProviderError(`${w.doing}: operation ${op.name} still ${op.status} after ${w.timeoutMs} ms`, {
        retryable: true,
      });
    }
    await w.limiter.operationRead(w.signal);
    op = await w.api.waitZoneOperation(
      { project: w.project, zone: w.zone, operation: op.name ?? '' },
      { signal: w.signal },
    );
  }
  if ((op.error?.errors ?? []).length > 0) throw new GceOperationFailed(op);
  return op;
}
