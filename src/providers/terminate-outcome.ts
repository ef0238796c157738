import { ProviderError } from '../core/errors.ts';

/** One instance a terminate could not end, and why (the translated error's message). */
export interface TerminateFailure {
  readonly instanceId: string;
  readonly error: string;
  /** Whether a later try may end it (a 5xx, a throttle) or not without someone's help (protection, permissions). */
  readonly retryable: boolean;
}

/**
 * A terminate that ended some of its instances and not others. Thrown by an adapter only after it sent every delete of
 * the batch: one refused delete never keeps the others from being sent. `terminated` are gone (or going); `failed`
 * are still there. Retryable: the provisioner records what ended, backs off, and sends the rest again (a repeated
 * delete of a gone instance is not an error).
 */
export class PartialTerminateError extends ProviderError {
  readonly terminated: readonly string[];
  readonly failed: readonly TerminateFailure[];

  constructor(doing: string, terminated: readonly string[], failed: readonly TerminateFailure[]) {
    super(
      `${doing}: ${failed.length} of ${terminated.length + failed.length} instance(s) not terminated: ` +
        failed.map((f) => `${f.instanceId} (${f.error})`).join('; '),
      { retryable: true },
    );
    this.terminated = terminated;
    this.failed = failed;
  }
}
