import type { Config } from '../config/schema.ts';
import { homePath, storePath } from '../config/load.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import type { AsyncStore } from './async-store.ts';
import { makePrivate } from './private-files.ts';
import { asyncSqliteStore } from './sqlite/async-sqlite-store.ts';
import { openSqliteStore } from './sqlite/sqlite-store.ts';

/** The store `serve` runs on: the asynchronous port, whichever engine the config names. */
export interface OpenedStore {
  readonly store: AsyncStore;
  /** `sqlite <path>` or `postgres <url>` (the URL never holds a password), for logs. */
  readonly describe: string;
}

/**
 * Opens the configured store and brings its schema up to date. SQLite (the default): the file under the home folder,
 * made private (0600) before and after SQLite creates it. PostgreSQL: connects with the configured password source
 * and TLS and migrates under an advisory lock, so controllers starting together migrate once; its client library is
 * loaded only then. A bad option is a ValidationError naming it; an unreachable server, a retryable error.
 */
export async function openStore(config: Config, logger: Logger): Promise<OpenedStore> {
  const store = config.store;
  const home = homePath(config);
  if (store.kind === 'postgres') {
    // The home folder still holds tokens and the local cloud's state.
    makePrivate({ home, storePath: undefined, logger });
    const { openPostgresStore } = await import('./postgres/postgres-store.ts');
    const opened = await openPostgresStore({
      url: store.url,
      ...(store.passwordFile === undefined ? {} : { passwordFile: store.passwordFile }),
      ...(store.passwordEnv === undefined ? {} : { passwordEnv: store.passwordEnv }),
      ...(store.tls === undefined ? {} : { tls: store.tls }),
      maxConnections: store.maxConnections,
      connectTimeoutMs: store.connectTimeoutMs,
      queryTimeoutMs: store.queryTimeoutMs,
    });
    return { store: opened, describe: `postgres ${store.url}` };
  }
  const path = storePath(config);
  makePrivate({ home, storePath: path, logger });
  const sqlite = openSqliteStore(path);
  // SQLite creates a new store 0644; its -wal and -shm then take the store's mode.
  makePrivate({ home, storePath: path, logger: silentLogger() });
  return { store: asyncSqliteStore(sqlite), describe: `sqlite ${path}` };
}
