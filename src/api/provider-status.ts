import type { BreakerView } from '../autoscaler/controller.ts';
import type { Intent } from '../core/intent.ts';
import type { FailingTermination, ProviderRetry, ProviderStatus } from './types.ts';

/** What the API asks of the controller about its providers (built in main.ts from the controller). */
export interface ProvidersPort {
  /** The configured provider ids. */
  ids(): readonly string[];
  /** The open launch breakers, each with the reason its launches wait. */
  breakers(): readonly BreakerView[];
  /**
   * Closes the launch breakers of the provider named by its id or by the part after its kind. Throws (or rejects
   * with) NotFoundError for a provider that is not configured.
   */
  retry(name: string, actor: string): ProviderRetry | Promise<ProviderRetry>;
}

/**
 * Each provider's health from its breakers and terminations: `refusing` with a provider breaker, `degraded` with
 * offering breakers only or a termination that keeps failing (a refused delete, retried with backoff), `ok` with
 * neither; `unknown` on a process that does not lead, since only the leader holds breakers. `openIntents` are the
 * store's open intents: the failing terminations are read from them, so a standby shows them too.
 */
export function providerStatuses(
  port: ProvidersPort | undefined,
  leader: boolean,
  openIntents: readonly Intent[],
): ProviderStatus[] {
  if (!port) return [];
  const breakers = leader ? port.breakers() : [];
  return port.ids().map((id): ProviderStatus => {
    const own = breakers.filter((b) => b.providerId === id);
    const failingTerminations = failingTerminationsOf(openIntents, id);
    const health = !leader
      ? 'unknown'
      : own.some((b) => b.scope === 'provider')
        ? 'refusing'
        : own.length > 0 || failingTerminations.length > 0
          ? 'degraded'
          : 'ok';
    return {
      id,
      health,
      failingTerminations,
      breakers: own.map((b) => ({
        key: b.key,
        scope: b.scope,
        state: b.state,
        code: b.code ?? null,
        subject: b.subject ?? null,
        refusals: b.refusals,
        openedAtMs: b.openedAtMs,
        retryAtMs: b.retryAtMs,
        reason: b.reason,
        error: b.message,
      })),
    };
  });
}

function failingTerminationsOf(openIntents: readonly Intent[], providerId: string): FailingTermination[] {
  return openIntents
    .filter((i) => i.kind === 'terminate' && i.providerId === providerId && i.attempts > 0 && i.error !== '')
    .map((i) => ({
      intentId: i.id,
      instanceIds: i.instanceIds,
      attempts: i.attempts,
      error: i.error,
      sinceMs: i.createdAtMs,
    }));
}
