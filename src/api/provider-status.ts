import type { BreakerView } from '../autoscaler/controller.ts';
import type { ProviderRetry, ProviderStatus } from './types.ts';

/** What the API asks of the controller about its providers (built in main.ts from the controller). */
export interface ProvidersPort {
  /** The configured provider ids. */
  ids(): readonly string[];
  /** The open launch breakers, each with the reason its launches wait. */
  breakers(): readonly BreakerView[];
  /**
   * Closes the launch breakers of the provider named by its id or by the part after its kind. Throws NotFoundError
   * for a provider that is not configured.
   */
  retry(name: string, actor: string): ProviderRetry;
}

/**
 * Each provider's health from its breakers: `refusing` with a provider breaker, `degraded` with offering breakers
 * only, `ok` with none; `unknown` on a process that does not lead, since only the leader holds breakers.
 */
export function providerStatuses(port: ProvidersPort | undefined, leader: boolean): ProviderStatus[] {
  if (!port) return [];
  const breakers = leader ? port.breakers() : [];
  return port.ids().map((id): ProviderStatus => {
    const own = breakers.filter((b) => b.providerId === id);
    const health = !leader
      ? 'unknown'
      : own.some((b) => b.scope === 'provider')
        ? 'refusing'
        : own.length > 0
          ? 'degraded'
          : 'ok';
    return {
      id,
      health,
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
