import { readFileSync } from 'node:fs';
import pg from 'pg';
import { SpillwayError, ValidationError, errorMessage } from '../../core/errors.ts';

/** How the PostgreSQL store reaches its server. */
export interface PostgresConnectionOptions {
  /**
   * `postgresql://user@host:port/database`, or with `?host=/run/postgresql` for a Unix socket folder. It must not hold
   * a password (URLs end up in configs, logs and process lists): give `passwordFile` or `passwordEnv` instead. TLS is
   * set by `tls`, not by `sslmode` and its kin in the URL.
   */
  readonly url: string;
  /** A file holding the password (a trailing newline is ignored). Read at every new connection, so it can rotate. */
  readonly passwordFile?: string;
  /** The name of an environment variable holding the password; read at every new connection. */
  readonly passwordEnv?: string;
  /** TLS to the server; absent: no TLS (a Unix socket, or a network the operator trusts). */
  readonly tls?: PostgresTlsOptions;
  /** Connections the pool keeps at most; default 10. */
  readonly maxConnections?: number;
  /** How long connecting may take before it fails, retryably; default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * The server ends a session left idle inside a transaction this long (PostgreSQL's
   * `idle_in_transaction_session_timeout`, set on each connection); default 5000. A controller cut off from the
   * database mid-transaction (packets dropped, no reset) otherwise keeps its locks on the server, the lease row's
   * FOR SHARE among them, and no standby can take over until TCP gives up, minutes later. Product transactions await
   * only the store, never a cloud call, so a live one is never idle this long.
   */
  readonly idleInTransactionTimeoutMs?: number;
  /**
   * How long a query may wait for the server's answer before it fails, retryably, and its connection is dropped (pg's
   * `query_timeout`); default 30000. A link cut silently (packets dropped, no reset) or a hung server otherwise holds
   * the query, and the pass waiting on it, until TCP gives up, minutes later. The store's statements take milliseconds.
   */
  readonly queryTimeoutMs?: number;
}

export const TlsMode = {
  /** Encrypted, and the server's certificate must chain to `caFile` (or the system's CAs) and name the host. */
  verifyFull: 'verify-full',
  /** Encrypted, the certificate is not checked: protects against listeners, not against an impostor. */
  require: 'require',
} as const;
export type TlsMode = (typeof TlsMode)[keyof typeof TlsMode];

export interface PostgresTlsOptions {
  /** Default `verify-full`. */
  readonly mode?: TlsMode;
  /** PEM file of the CA(s) that signed the server's certificate; default: the system's CAs. */
  readonly caFile?: string;
  /** PEM client certificate and key, for servers that authenticate clients by certificate. Both or neither. */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/**
 * The only URL query parameters taken: `host` (a Unix socket folder, libpq's way), `port`, `application_name`. Any
 * other is refused rather than ignored: the password and TLS have options of their own.
 */
const ALLOWED_URL_PARAMS = ['host', 'port', 'application_name'];

/**
 * A pool of connections to the store's database. Options are checked at once: a bad one throws a ValidationError
 * naming it (`url`, `passwordFile`, `tls.caFile`...), before any connection is tried. BIGINT columns come back as
 * numbers (times in epoch milliseconds, micro-dollars: far below 2^53); a larger value fails the read.
 *
 * A failure to connect or a lost connection surfaces on the query that needed it (see `PgDb`), not here.
 */
export function openPostgresPool(opts: PostgresConnectionOptions, env: NodeJS.ProcessEnv = process.env): pg.Pool {
  const { url, emptyHost } = parseUrl(opts.url);
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new ValidationError('url', `expected the postgresql: scheme, got ${url.protocol}`);
  }
  if (url.password !== '') {
    throw new ValidationError('url', 'holds a password; give it through passwordFile or passwordEnv instead');
  }
  for (const param of url.searchParams.keys()) {
    if (!ALLOWED_URL_PARAMS.includes(param)) {
      const instead =
        param === 'password' ? 'use passwordFile or passwordEnv' : param.startsWith('ssl') ? 'use tls' : '';
      throw new ValidationError(
        'url',
        `sets ${param}, which the store does not take from the URL${instead ? `; ${instead}` : ''} ` +
          `(allowed: ${ALLOWED_URL_PARAMS.join(', ')})`,
      );
    }
  }
  const port = Number(url.searchParams.get('port') ?? (url.port || '5432'));
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ValidationError('url', `port ${url.searchParams.get('port') ?? url.port} is not a TCP port`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '') throw new ValidationError('url', 'names no database (postgresql://user@host/DATABASE)');
  if (opts.passwordFile !== undefined && opts.passwordEnv !== undefined) {
    throw new ValidationError('passwordFile', 'give passwordFile or passwordEnv, not both');
  }
  const maxConnections = positiveInteger('maxConnections', opts.maxConnections, 10);
  const connectTimeoutMs = positiveInteger('connectTimeoutMs', opts.connectTimeoutMs, 5_000);
  const idleInTransactionTimeoutMs = positiveInteger(
    'idleInTransactionTimeoutMs',
    opts.idleInTransactionTimeoutMs,
    5_000,
  );
  const queryTimeoutMs = positiveInteger('queryTimeoutMs', opts.queryTimeoutMs, 30_000);
  return new pg.Pool({
    host:
      url.searchParams.get('host') ??
      (emptyHost ? undefined : decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1'))),
    port,
    database,
    user: url.username === '' ? undefined : decodeURIComponent(url.username),
    application_name: url.searchParams.get('application_name') ?? 'spillway',
    password: passwordSource(opts, env),
    ssl: tlsSettings(opts.tls),
    max: maxConnections,
    connectionTimeoutMillis: connectTimeoutMs,
    idle_in_transaction_session_timeout: idleInTransactionTimeoutMs,
    query_timeout: queryTimeoutMs,
    types: { getTypeParser },
  });
}

/** `value`, or `fallback` when absent; a ValidationError naming `field` unless it is a positive integer. */
function positiveInteger(field: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(field, `expected a positive integer, got ${n}`);
  return n;
}

/**
 * The URL, checked by WHATWG rules. libpq's form with an empty host (`postgresql://user@/db?host=/run/postgresql`,
 * a Unix socket) is valid there but not for WHATWG, so an empty host is read as `localhost` for the check only.
 */
function parseUrl(text: string): { url: URL; emptyHost: boolean } {
  const withHost = text.replace(/^([a-z]+:\/\/(?:[^@/?#]*@)?)(?=[/?#]|$)/i, '$1localhost');
  try {
    return { url: new URL(withHost), emptyHost: withHost !== text };
  } catch {
    // Reported below.
  }
  throw new ValidationError('url', `expected a postgresql:// URL, got ${JSON.stringify(text)}`);
}

function passwordSource(opts: PostgresConnectionOptions, env: NodeJS.ProcessEnv): (() => string) | undefined {
  const { passwordFile, passwordEnv } = opts;
  if (passwordFile !== undefined) {
    readPasswordFile(passwordFile);
    return () => readPasswordFile(passwordFile);
  }
  if (passwordEnv !== undefined) {
    if (env[passwordEnv] === undefined) {
      throw new ValidationError('passwordEnv', `the environment variable ${passwordEnv} is not set`);
    }
    return () => {
      const value = env[passwordEnv];
      if (value === undefined) throw new SpillwayError(`reading the store password: ${passwordEnv} is not set`);
      return value;
    };
  }
  return undefined;
}

function readPasswordFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ValidationError('passwordFile', `reading ${path}: ${errorMessage(err)}`);
  }
}

function tlsSettings(tls: PostgresTlsOptions | undefined): pg.ClientConfig['ssl'] {
  if (tls === undefined) return false;
  const mode = tls.mode ?? TlsMode.verifyFull;
  if (mode !== TlsMode.verifyFull && mode !== TlsMode.require) {
    throw new ValidationError('tls.mode', `expected verify-full or require, got ${JSON.stringify(mode)}`);
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ValidationError(
      tls.certFile === undefined ? 'tls.certFile' : 'tls.keyFile',
      'give certFile and keyFile together',
    );
  }
  const settings: NonNullable<Exclude<pg.ClientConfig['ssl'], boolean>> = {
    rejectUnauthorized: mode === TlsMode.verifyFull,
  };
  if (tls.caFile !== undefined) settings.ca = readPem('tls.caFile', tls.caFile);
  if (tls.certFile !== undefined) settings.cert = readPem('tls.certFile', tls.certFile);
  if (tls.keyFile !== undefined) settings.key = readPem('tls.keyFile', tls.keyFile);
  return settings;
}

function readPem(field: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError(field, `reading ${path}: ${errorMessage(err)}`);
  }
}

const INT8_OID = 20;

/** BIGINT as a number; everything else as `pg` reads it. */
function getTypeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === INT8_OID && format !== 'binary') return parseBigint;
  return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
}

function parseBigint(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) {
    throw new SpillwayError(`reading a BIGINT column: ${value} is beyond a safe integer`);
  }
  return parsed;
}
