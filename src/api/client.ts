import http from 'node:http';
import https from 'node:https';
import { AccessError, ConflictError, NotFoundError, SpillwayError, ValidationError } from '../core/errors.ts';
import type { ErrorBody } from './types.ts';

export interface ApiClientOptions {
  /**
   * `http://127.0.0.1:7070` or `https://controller.example:7443`; or several controllers of one cluster (replicas on
   * one database), tried in turn: see `ApiClient`.
   */
  readonly url: string | readonly string[];
  readonly token?: string;
  /** PEM CA bundle to verify the controller's certificate (https only). */
  readonly ca?: string;
  /** Per-request timeout; default 30 s. */
  readonly timeoutMs?: number;
}

/** An API error the server answered with, carrying its status and code. */
export class ApiError extends SpillwayError {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, body: Partial<ErrorBody['error']>) {
    super(body.message ?? `the server answered ${status}`, { retryable: status >= 500 || status === 429 });
    this.status = status;
    this.code = body.code ?? 'unknown';
    this.field = body.field;
  }
}

/**
 * A small JSON client for Spillway's HTTP API, used by the CLI and the agent. It never logs and never puts the token
 * anywhere but the Authorization header. Network failures throw a retryable SpillwayError; answers >= 400 throw
 * ApiError.
 *
 * Given several URLs (the controllers of one cluster), it sends to one at a time and stays with it while it answers.
 * When it does not (no connection, no answer within the timeout, or 503: a replica that lost its database), the
 * request fails as it would with one URL, and the next request goes to the next URL, round the list: the caller's
 * retry, with its backoff, is what moves the work to a controller that answers. A request is never sent to two
 * controllers by the client itself.
 */
export class ApiClient {
  /** Every controller URL, in the order given. */
  readonly urls: readonly string[];
  #current = 0;
  #token: string | undefined;
  readonly #ca: string | undefined;
  readonly #timeoutMs: number;
  readonly #agents: { readonly http: http.Agent; readonly https: https.Agent };

  constructor(opts: ApiClientOptions) {
    const urls = (typeof opts.url === 'string' ? [opts.url] : opts.url).map((u) => u.replace(/\/+$/, ''));
    if (urls.length === 0) throw new ValidationError('url', 'expected at least one controller URL');
    this.urls = urls;
    this.#token = opts.token;
    this.#ca = opts.ca;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    // One keep-alive pool per scheme: an http.Agent keeps sockets per host, so one serves every controller.
    this.#agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, ca: this.#ca }),
    };
  }

  /** The controller the next request goes to. */
  get url(): string {
    return this.urls[this.#current]!;
  }

  /** Replaces the bearer token (an agent swaps its bootstrap credential for its own token). */
  setToken(token: string): void {
    this.#token = token;
  }

  get<T>(path: string, opts: { signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('GET', path, undefined, opts);
  }

  post<T>(path: string, body: unknown = {}, opts: { signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('POST', path, body, opts);
  }

  put<T>(path: string, body: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('PUT', path, body, opts);
  }

  delete<T>(path: string, opts: { signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('DELETE', path, undefined, opts);
  }

  /**
   * Sends one request. A keep-alive socket the server closed while it sat in the pool (the server restarted, or its
   * idle timeout fired as the request went out) fails with ECONNRESET or EPIPE before any answer: an idempotent request
   * is then sent once more on a new socket. A POST is never resent, since the server may have acted on it.
   */
  request<T>(method: string, path: string, body?: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
    const url = this.url;
    return this.#send<T>(url, method, path, body, opts)
      .catch((err: unknown) => {
        if (err instanceof StaleSocketError && IDEMPOTENT.has(method)) return this.#send<T>(url, method, path, body, opts);
        throw err instanceof StaleSocketError ? err.wrapped : err;
      })
      .catch((err: unknown) => {
        // Only the first failure moves on: requests in flight together to one silent controller move one step.
        if (this.urls.length > 1 && notAnswering(err) && this.url === url) {
          this.#current = (this.#current + 1) % this.urls.length;
        }
        throw err;
      });
  }

  #send<T>(base: string, method: string, path: string, body: unknown, opts: { signal?: AbortSignal }): Promise<T> {
    const target = new URL(base + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const transport = target.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = transport.request(
        target,
        {
          method,
          headers,
          agent: target.protocol === 'https:' ? this.#agents.https : this.#agents.http,
          timeout: this.#timeoutMs,
          signal: opts.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (err) => reject(networkError(method, path, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            if (status >= 400) {
              const error = (parsed as Partial<ErrorBody> | undefined)?.error ?? { message: text.slice(0, 200) };
              reject(new ApiError(status, error));
            } else if (parsed === undefined && text) {
              resolve(text as T);
            } else {
              resolve(parsed as T);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const error = networkError(method, path, err);
        const stale = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        reject(stale ? new StaleSocketError(error) : error);
      });
      req.end(payload);
    });
  }

  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}

/**
 * A controller that does not answer (a network error, not an abort) or answers 503 (it lost its database, or is
 * shutting down): another replica may.
 */
function notAnswering(err: unknown): boolean {
  if (err instanceof ApiError) return err.status === 503;
  return err instanceof SpillwayError && err.retryable;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/** A request that failed on a reused keep-alive socket before any answer; `wrapped` is the error to report. */
class StaleSocketError extends Error {
  readonly wrapped: SpillwayError;
  constructor(wrapped: SpillwayError) {
    super(wrapped.message);
    this.wrapped = wrapped;
  }
}

function networkError(method: string, path: string, cause: Error): SpillwayError {
  if (cause.name === 'AbortError') return new SpillwayError(`calling ${method} ${path}: aborted`, { cause });
  return new SpillwayError(`calling ${method} ${path}: ${cause.message}`, { retryable: true, cause });
}

/** Maps an ApiError to the domain error a caller would have got in-process, for messages and exit codes. */
export function toDomainError(err: ApiError): SpillwayError {
  if (err.status === 400) return new ValidationError(err.field ?? '', err.message.replace(/^[^:]+: /, ''));
  if (err.status === 401 || err.status === 403) return new AccessError(err.status, err.message);
  if (err.status === 404) return new NotFoundError(err.message);
  if (err.status === 409) return new ConflictError(err.message);
  return err;
}
