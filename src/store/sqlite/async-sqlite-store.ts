import { AsyncLocalStorage } from 'node:async_hooks';
import { REPO_NAMES, type AsyncRepo, type AsyncStore } from '../async-store.ts';
import type { SqliteStore } from './sqlite-store.ts';

/**
 * The SQLite store through the asynchronous port, so callers moved to `AsyncStore` keep SQLite as the embedded
 * default. Each repository call runs the synchronous method at once and settles with its result or error.
 *
 * A `transaction` holds SQLite's one connection across its callback's awaits, so while one is open every call from
 * outside it (from another request, another timer) waits for it to settle; calls made inside the callback, however
 * deep, join it (an AsyncLocalStorage tells them apart). Transactions from outside therefore run one after another,
 * as SQLite's single writer does anyway; a callback should not await anything slow (a cloud call) inside one.
 */
export function asyncSqliteStore(store: SqliteStore): AsyncStore {
  return new AsyncSqliteStore(store).port();
}

class AsyncSqliteStore {
  readonly #store: SqliteStore;
  readonly #inside = new AsyncLocalStorage<true>();
  /** Settles when the open transaction does; undefined when none is open. */
  #open: Promise<void> | undefined;

  constructor(store: SqliteStore) {
    this.#store = store;
  }

  port(): AsyncStore {
    const repos = Object.fromEntries(REPO_NAMES.map((name) => [name, this.#wrap(this.#store[name])]));
    return {
      ...(repos as { [K in keyof typeof repos]: never }),
      transaction: (fn) => this.#transaction(fn),
      close: async () => {
        while (this.#open !== undefined) await this.#open;
        this.#store.close();
      },
    } as AsyncStore;
  }

  /** A view of `repo` whose methods wait for another caller's open transaction, then run. */
  #wrap<R extends object>(repo: R): AsyncRepo<R> {
    return new Proxy(repo, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          // Checked and run in one step: a tick between them would let a transaction open and take this call in.
          if (this.#inside.getStore() !== true) while (this.#open !== undefined) await this.#open;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as unknown as AsyncRepo<R>;
  }

  async #transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#inside.getStore() === true) return this.#store.transactionAsync(fn);
    // As in #wrap: no tick between finding the connection free and taking it (several waiters may wake: loop).
    while (this.#open !== undefined) await this.#open;
    let settle: () => void = () => undefined;
    this.#open = new Promise((resolve) => (settle = resolve));
    try {
      return await this.#inside.run(true, () => this.#store.transactionAsync(fn));
    } finally {
      this.#open = undefined;
      settle();
    }
  }
}
