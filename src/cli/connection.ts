import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApiClient } from '../api/client.ts';
import { ValidationError, errorMessage } from '../core/errors.ts';
import type { CliContext } from './context.ts';

/** The connection flags every client command takes. */
export interface ConnectionFlags {
  readonly url?: string;
  readonly token?: string;
  readonly caFile?: string;
}

export interface Connection {
  readonly url: string;
  readonly token: string | undefined;
  /** PEM contents, not a path. */
  readonly ca: string | undefined;
  /** Where the URL and the token came from (`--url`, `SPILLWAY_TOKEN`, a file path), for messages and tests. */
  readonly urlSource: string;
  readonly tokenSource: string | undefined;
}

/** The folder `spillway serve` writes `api.url` and `admin.token` to: `$SPILLWAY_HOME`, else `./.spillway`. */
export function spillwayHome(ctx: Pick<CliContext, 'env' | 'cwd'>): string {
  return resolve(ctx.cwd, nonEmpty(ctx.env.SPILLWAY_HOME) ?? '.spillway');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function readOptional(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  return nonEmpty(readFileSync(file, 'utf8'));
}

function normalizeUrl(source: string, raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ValidationError(source, `expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ValidationError(source, `expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}

/**
 * Where to reach the API and with which token. Each comes from its flag, else its environment variable, else the
 * local files `spillway serve` wrote in this folder (`.spillway/api.url`, `.spillway/admin.token`), so the demo needs
 * no token typed by hand. The local admin token is only ever sent to the local server's URL: a URL given for
 * another server never receives it.
 */
export function resolveConnection(flags: ConnectionFlags, ctx: Pick<CliContext, 'env' | 'cwd'>): Connection {
  const home = spillwayHome(ctx);
  const localUrlFile = join(home, 'api.url');
  // Validated only when used, so a stale file does not block a URL given explicitly.
  const localUrl = readOptional(localUrlFile)?.replace(/\/+$/, '');

  let url: string;
  let urlSource: string;
  const flagUrl = nonEmpty(flags.url);
  const envUrl = nonEmpty(ctx.env.SPILLWAY_URL);
  if (flagUrl !== undefined) [url, urlSource] = [normalizeUrl('--url', flagUrl), '--url'];
  else if (envUrl !== undefined) [url, urlSource] = [normalizeUrl('SPILLWAY_URL', envUrl), 'SPILLWAY_URL'];
  else if (localUrl !== undefined) [url, urlSource] = [normalizeUrl(localUrlFile, localUrl), localUrlFile];
  else {
    throw new ValidationError(
      '--url',
      `no API URL given: pass --url, set SPILLWAY_URL, or start \`spillway serve\` in this folder (it writes ${localUrlFile})`,
    );
  }

  let token: string | undefined;
  let tokenSource: string | undefined;
  const flagToken = flags.token;
  const envToken = nonEmpty(ctx.env.SPILLWAY_TOKEN);
  if (flagToken !== undefined) {
    if (!/^\S+$/.test(flagToken))
      throw new ValidationError('--token', 'expected a token without spaces, got an empty or spaced value');
    [token, tokenSource] = [flagToken, '--token'];
  } else if (envToken !== undefined) {
    [token, tokenSource] = [envToken, 'SPILLWAY_TOKEN'];
  } else if (localUrl !== undefined && url === localUrl) {
    const tokenFile = join(home, 'admin.token');
    token = readOptional(tokenFile);
    tokenSource = token === undefined ? undefined : tokenFile;
  }

  return { url, token, ca: readCa(flags.caFile, ctx), urlSource, tokenSource };
}

/** The CA bundle from `--ca-file`, else `SPILLWAY_CA_FILE`; paths are relative to the current folder. */
export function readCa(caFile: string | undefined, ctx: Pick<CliContext, 'env' | 'cwd'>): string | undefined {
  const [file, source] =
    caFile !== undefined ? [caFile, '--ca-file'] : [nonEmpty(ctx.env.SPILLWAY_CA_FILE), 'SPILLWAY_CA_FILE'];
  if (file === undefined) return undefined;
  return readFlagFile(source, file, ctx);
}

/** Reads a file named by a flag or variable; a failure names that flag and the path. */
export function readFlagFile(source: string, file: string, ctx: Pick<CliContext, 'cwd'>): string {
  try {
    return readFileSync(resolve(ctx.cwd, file), 'utf8');
  } catch (err) {
    throw new ValidationError(source, `cannot read ${JSON.stringify(file)}: ${errorMessage(err)}`);
  }
}

export function openClient(flags: ConnectionFlags, ctx: Pick<CliContext, 'env' | 'cwd'>): ApiClient {
  const connection = resolveConnection(flags, ctx);
  return new ApiClient({ url: connection.url, token: connection.token, ca: connection.ca });
}

/** Runs `fn` with a client and closes it afterwards, so no keep-alive socket holds the process open. */
export async function withClient<T>(
  flags: ConnectionFlags,
  ctx: Pick<CliContext, 'env' | 'cwd'>,
  fn: (client: ApiClient) => Promise<T>,
): Promise<T> {
  const client = openClient(flags, ctx);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
