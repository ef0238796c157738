import type { ApiClient } from '../api/client.ts';
import { isBootstrapCredential } from '../core/credentials.ts';
import { errorMessage, SpillwayError } from '../core/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { InstanceIdentity } from './identity.ts';
import { PROTOCOL_VERSION, type RegisterRequest, type RegisterResponse } from './protocol.ts';
import { isTransient, retry, statusOf, type Backoff } from './retry.ts';

export interface RegisterOptions {
  readonly client: ApiClient;
  /** The token the client holds: decides whether 401/403/409 are worth retrying. */
  readonly token: string;
  readonly request: Omit<RegisterRequest, 'protocolVersion' | 'identity'>;
  /**
   * The instance's signed identity, fetched for each attempt (a GCE token is accepted once); a cloud agent's
   * registration carries it. Absent for private agents.
   */
  readonly identity?: () => Promise<InstanceIdentity | undefined>;
  readonly backoff: Backoff;
  readonly deadlineMs: number;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

/**
 * Registers the agent, retrying network failures, 5xx and 429 answers with capped exponential backoff until the
 * deadline. With a bootstrap credential it also retries 401, 403 and 409: the controller learns an instance's id
 * only when the launch call returns or reconcile adopts it, so an early agent is refused for a while.
 * Throws a non-retryable SpillwayError when the controller refuses for good, answers with another protocol version,
 * or the deadline passes; rejects with the signal's reason when aborted.
 */
export async function register(opts: RegisterOptions): Promise<RegisterResponse> {
  const bootstrap = isBootstrapCredential(opts.token);
  const body: RegisterRequest = { protocolVersion: PROTOCOL_VERSION, ...opts.request };
  const shouldRetry = (err: unknown): boolean => {
    if (isTransient(err)) return true;
    const status = statusOf(err);
    return bootstrap && (status === 401 || status === 403 || status === 409);
  };
  let attempts = 0;
  let response: RegisterResponse;
  try {
    response = await retry(
      async (attempt) => {
        attempts = attempt + 1;
        const identity = opts.identity ? await opts.identity() : undefined;
        const request: RegisterRequest = identity ? { ...body, identity } : body;
        return opts.client.post<RegisterResponse>('/v1/agents/register', request, { signal: opts.signal });
      },
      {
        backoff: opts.backoff,
        shouldRetry,
        deadlineMs: opts.deadlineMs,
        signal: opts.signal,
        onRetry: (err, attempt, delayMs) =>
          opts.logger.info('retrying registration', {
            attempt: attempt + 1,
            delayMs,
            status: statusOf(err),
            error: errorMessage(err),
          }),
      },
    );
  } catch (err) {
    if (opts.signal.aborted) throw err;
    const why = shouldRetry(err) ? 'gave up at the registration deadline' : 'the controller refused';
    opts.logger.error('gave up registering', {
      url: opts.client.url,
      attempts,
      status: statusOf(err),
      error: errorMessage(err),
    });
    throw new SpillwayError(
      `registering with ${opts.client.url}: ${why} after ${attempts} attempts: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  if (response.protocolVersion !== PROTOCOL_VERSION) {
    throw new SpillwayError(
      `registering with ${opts.client.url}: the controller speaks protocol ${String(response.protocolVersion)}, ` +
        `this agent ${PROTOCOL_VERSION}`,
    );
  }
  return response;
}
