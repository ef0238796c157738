import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hashToken } from '../core/credentials.ts';
import { AccessError } from '../core/errors.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { TokenRecord } from '../store/store.ts';

/** The session cookie's name over plain HTTP (loopback). */
export const SESSION_COOKIE = 'spillway_session';

/**
 * The session cookie's name: over HTTPS `__Host-` prefixed, which browsers accept only when set by this very host,
 * Secure, with Path=/ and no Domain; so a sibling subdomain or a plain-HTTP page on the name cannot plant a session of
 * its own in the browser (cookie tossing), and the server reads no cookie without the prefix.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
}
/** How long a sign-in link printed by `spillway console` stays usable (once). */
export const SIGN_IN_CODE_TTL_MS = 5 * 60_000;
/** How long a console session lasts before its user signs in again. */
export const SESSION_TTL_MS = 12 * 3_600_000;
/** The header every state-changing request of a session carries. */
export const CSRF_HEADER = 'x-csrf-token';

/** 32 random bytes, base64url: a sign-in code or a session secret. */
export function newConsoleSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The CSRF token of a session: derived from the session's secret (which only the HttpOnly cookie holds), so it is bound
 * to that session and nothing more need be stored. The page reads it from GET /console/session, which another origin
 * cannot read.
 */
export function csrfTokenOf(sessionSecret: string): string {
  return createHash('sha256').update(`spillway console csrf\0${sessionSecret}`).digest('base64url');
}

/** A code made by `token`; returns the code (only its hash is stored). */
export async function makeSignInCode(
  store: AsyncStore,
  token: TokenRecord,
  nowMs: number,
): Promise<{ code: string; expiresAtMs: number }> {
  const code = newConsoleSecret();
  const expiresAtMs = nowMs + SIGN_IN_CODE_TTL_MS;
  await store.console.addCode(hashToken(code), token.id, nowMs, expiresAtMs);
  return { code, expiresAtMs };
}

/** Starts a session acting as `token`; returns its secret, for the cookie. */
export async function startSession(
  store: AsyncStore,
  token: TokenRecord,
  nowMs: number,
): Promise<{ secret: string; expiresAtMs: number }> {
  const secret = newConsoleSecret();
  const expiresAtMs = nowMs + SESSION_TTL_MS;
  await store.console.openSession(hashToken(secret), { tokenId: token.id, createdAtMs: nowMs, expiresAtMs });
  return { secret, expiresAtMs };
}

/** The session secret of a request's cookie (named for a server that is `secure` or not), if it sends one. */
export function sessionSecretOf(req: IncomingMessage, secure: boolean): string | undefined {
  const name = sessionCookieName(secure);
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export interface ActiveSession {
  readonly secret: string;
  readonly token: TokenRecord;
  readonly expiresAtMs: number;
}

/**
 * The request's live session: its cookie names a session that has not expired, whose token is still known, unrevoked
 * and of a human role. Undefined otherwise.
 */
export async function activeSession(
  store: AsyncStore,
  req: IncomingMessage,
  nowMs: number,
  secure: boolean,
): Promise<ActiveSession | undefined> {
  const secret = sessionSecretOf(req, secure);
  if (secret === undefined) return undefined;
  const session = await store.console.session(hashToken(secret), nowMs);
  if (session === undefined) return undefined;
  const token = await store.tokens.get(session.tokenId);
  if (token === undefined || token.revokedAtMs !== null || token.role === 'agent') return undefined;
  return { secret, token, expiresAtMs: session.expiresAtMs };
}

/**
 * The Set-Cookie value of a session: HttpOnly, SameSite=Strict, Path=/; Secure and `__Host-` named when the server
 * speaks HTTPS.
 */
export function sessionCookie(secret: string, maxAgeMs: number, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor(maxAgeMs / 1000));
  return `${sessionCookieName(secure)}=${secret}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/**
 * Refuses (AccessError 403) a request that could come from another site: it must name this server as its `Origin`
 * (browsers send it on every POST, PUT and DELETE), and `Sec-Fetch-Site`, when sent, must be `same-origin`. With a
 * session, it must also carry the session's CSRF token in the X-CSRF-Token header. `what` names the call.
 */
export function checkSameOrigin(req: IncomingMessage, what: string, session?: ActiveSession): void {
  const origin = req.headers.origin;
  const host = req.headers.host;
  let originHost: string | undefined;
  try {
    originHost = origin === undefined || origin === 'null' ? undefined : new URL(origin).host;
  } catch {
    originHost = undefined;
  }
  if (originHost === undefined || host === undefined || originHost !== host) {
    throw new AccessError(
      403,
      `calling ${what}: a request made with a console session must come from this server's pages (Origin ${origin ?? 'missing'})`,
    );
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    throw new AccessError(
      403,
      `calling ${what}: a request made with a console session must be same-origin (Sec-Fetch-Site ${String(site)})`,
    );
  }
  if (session === undefined) return;
  const sent = req.headers[CSRF_HEADER];
  const expected = Buffer.from(csrfTokenOf(session.secret));
  const given = Buffer.from(typeof sent === 'string' ? sent : '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AccessError(403, `calling ${what}: send the session's CSRF token in the ${CSRF_HEADER} header`);
  }
}
