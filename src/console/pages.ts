import type http from 'node:http';
import type { Clock } from '../core/clock.ts';
import { hashToken } from '../core/credentials.ts';
import { AccessError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { TokenRecord } from '../store/store.ts';
import { loadConsoleAssets, type Asset } from './assets.ts';
import { confirmSignInPage, signInPage, shellPage } from './html.ts';
import {
  activeSession,
  checkSameOrigin,
  clearedSessionCookie,
  csrfTokenOf,
  sessionCookie,
  sessionSecretOf,
  startSession,
} from './session.ts';

/** The Content-Security-Policy of every console answer: nothing but this server, no inline script or style. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** A pasted token is at most this long; the sign-in form's body at most this many bytes. */
const MAX_SIGN_IN_BODY_BYTES = 4_096;

export interface ConsolePagesDeps {
  readonly store: AsyncStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Whether the server speaks HTTPS: the session cookie is then `Secure`. */
  readonly secure: boolean;
}

interface Answer {
  readonly status: number;
  readonly body: string | Buffer;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The web console's own paths: the page at `/`, its files under `/console/static/` and `/console/vendor/`, sign-in
 * (`/console/signin`, by a one-time code or a pasted token), `/console/session` (who is signed in, and the CSRF token
 * the page sends back) and `/console/signout`. Everything the views show comes from the `/v1` API, which accepts the
 * session cookie in place of a bearer token.
 */
export class ConsolePages {
  readonly #deps: ConsolePagesDeps;
  readonly #assets: ReadonlyMap<string, Asset>;

  constructor(deps: ConsolePagesDeps) {
    this.#deps = deps;
    this.#assets = loadConsoleAssets();
  }

  /** Whether a path is the console's rather than the API's. */
  owns(pathname: string): boolean {
    return pathname === '/' || pathname === '/console' || pathname.startsWith('/console/');
  }

  /** Answers one request; never throws (a failure is a 500 and a log line). */
  async serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number> {
    let answer: Answer;
    try {
      answer = await this.#answer(req, url);
    } catch (err) {
      if (err instanceof AccessError) {
        answer = json(err.status, {
          error: { code: err.status === 401 ? 'unauthorized' : 'forbidden', message: err.message },
        });
      } else {
        this.#deps.logger.error('failed answering console request', { path: url.pathname, error: errorMessage(err) });
        answer = { status: 500, body: 'internal error', contentType: 'text/plain; charset=utf-8' };
      }
    }
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(answer.status, {
        ...answer.headers,
        'content-type': answer.contentType ?? 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(answer.body),
        'content-security-policy': CONSOLE_CSP,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'same-origin',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
      });
      res.end(req.method === 'HEAD' ? undefined : answer.body);
    }
    return answer.status;
  }

  async #answer(req: http.IncomingMessage, url: URL): Promise<Answer> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const read = method === 'GET' || method === 'HEAD';
    const asset = this.#assets.get(path);
    if (asset) return read ? { status: 200, body: asset.body, contentType: asset.contentType } : notAllowed('GET');
    switch (path) {
      case '/':
      case '/console':
      case '/console/':
        return read ? { status: 200, body: shellPage() } : notAllowed('GET');
      case '/console/signin':
        if (read) return this.#signInByLink(req, url);
        if (method === 'POST') return this.#signInByToken(req);
        return notAllowed('GET, POST');
      case '/console/session':
        return read ? this.#session(req) : notAllowed('GET');
      case '/console/signout':
        return method === 'POST' ? this.#signOut(req) : notAllowed('POST');
      default:
        return { status: 404, body: 'not found', contentType: 'text/plain; charset=utf-8' };
    }
  }

  /**
   * A sign-in link opened. Only a GET the user made by opening the link (typed, pasted or handed over by a terminal:
   * `Sec-Fetch-Site: none`, or a browser that does not say) uses its code. A HEAD (a link checker) leaves it unused,
   * and a navigation from another site gets a page asking to continue, which posts the code back: so a page elsewhere
   * cannot sign a visitor in as its own token (login CSRF) by linking to a code it made.
   */
  async #signInByLink(req: http.IncomingMessage, url: URL): Promise<Answer> {
    const code = url.searchParams.get('code');
    if (code === null || req.method === 'HEAD') return { status: 200, body: signInPage() };
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'none' && site !== 'same-origin') {
      return { status: 200, body: confirmSignInPage(code) };
    }
    return this.#signInByCode(req, code);
  }

  /** Uses the code and opens the session in one transaction: a session that cannot be opened leaves the code unused. */
  async #signInByCode(req: http.IncomingMessage, code: string): Promise<Answer> {
    const { store, clock } = this.#deps;
    const nowMs = clock.now();
    const started = await store.transaction(async () => {
      const tokenId = /^[A-Za-z0-9_-]{20,100}$/.test(code)
        ? await store.console.useCode(hashToken(code), nowMs)
        : undefined;
      const token = tokenId === undefined ? undefined : usableToken(await store.tokens.get(tokenId));
      return token === undefined ? undefined : this.#started(req, token, nowMs);
    });
    return (
      started ?? {
        status: 401,
        body: signInPage(
          'This sign-in link is not valid: it expired or was used already. Run `spillway console` again.',
        ),
      }
    );
  }

  async #signInByToken(req: http.IncomingMessage): Promise<Answer> {
    checkSameOrigin(req, 'POST /console/signin');
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (type !== 'application/x-www-form-urlencoded') {
      return { status: 415, body: signInPage('Send the sign-in form.') };
    }
    const text = await readSmallBody(req, MAX_SIGN_IN_BODY_BYTES);
    if (text === undefined) return { status: 413, body: signInPage('That token is too long.') };
    const form = new URLSearchParams(text);
    const code = form.get('code');
    if (code !== null) return this.#signInByCode(req, code);
    const secret = form.get('token')?.trim() ?? '';
    const token = secret === '' ? undefined : usableToken(await this.#deps.store.tokens.byHash(hashToken(secret)));
    if (token === undefined) {
      return { status: 401, body: signInPage('That token is not known, was revoked, or is an agent token.') };
    }
    return this.#started(req, token, this.#deps.clock.now());
  }

  /**
   * Opens a session for `token`; the one the browser held until now (its cookie is replaced) ends, in the same
   * transaction.
   */
  async #started(req: http.IncomingMessage, token: TokenRecord, nowMs: number): Promise<Answer> {
    const { store } = this.#deps;
    const previous = sessionSecretOf(req, this.#deps.secure);
    const { secret, expiresAtMs } = await store.transaction(async () => {
      if (previous !== undefined) await store.console.closeSession(hashToken(previous));
      return startSession(store, token, nowMs);
    });
    this.#deps.logger.info('started console session', { tokenId: token.id, role: token.role });
    return {
      status: 303,
      body: '',
      headers: { location: '/#/pool', 'set-cookie': sessionCookie(secret, expiresAtMs - nowMs, this.#deps.secure) },
    };
  }

  async #session(req: http.IncomingMessage): Promise<Answer> {
    const session = await activeSession(this.#deps.store, req, this.#deps.clock.now(), this.#deps.secure);
    if (session === undefined) {
      return json(401, { error: { code: 'unauthorized', message: 'signing in: there is no console session' } });
    }
    const { token } = session;
    return json(200, {
      tokenId: token.id,
      name: token.name,
      role: token.role,
      ...(token.scope === undefined ? {} : { scope: token.scope }),
      expiresAtMs: session.expiresAtMs,
      csrfToken: csrfTokenOf(session.secret),
    });
  }

  async #signOut(req: http.IncomingMessage): Promise<Answer> {
    const session = await activeSession(this.#deps.store, req, this.#deps.clock.now(), this.#deps.secure);
    checkSameOrigin(req, 'POST /console/signout', session);
    if (session !== undefined) {
      await this.#deps.store.console.closeSession(hashToken(session.secret));
      this.#deps.logger.info('ended console session', { tokenId: session.token.id });
    }
    return { status: 204, body: '', headers: { 'set-cookie': clearedSessionCookie(this.#deps.secure) } };
  }
}

/** A token may open a session when it is known, not revoked and of a human role. */
function usableToken(token: TokenRecord | undefined): TokenRecord | undefined {
  return token !== undefined && token.revokedAtMs === null && token.role !== 'agent' ? token : undefined;
}

function json(status: number, body: unknown): Answer {
  return { status, body: JSON.stringify(body), contentType: 'application/json; charset=utf-8' };
}

function notAllowed(allow: string): Answer {
  return { status: 405, body: 'method not allowed', contentType: 'text/plain; charset=utf-8', headers: { allow } };
}

/** The body as text, or undefined when it passes `maxBytes`. */
async function readSmallBody(req: http.IncomingMessage, maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
