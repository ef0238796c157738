import type { AsyncStore } from '../../src/store/async-store.ts';
import { asyncSqliteStore } from '../../src/store/sqlite/async-sqlite-store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';

/**
 * The asynchronous port of a SQLite store a test opened (and may still set up through synchronously): the one port
 * of that store, as the product builds it.
 */
export function asyncOf(store: Store): AsyncStore {
  return asyncSqliteStore(store as SqliteStore);
}
