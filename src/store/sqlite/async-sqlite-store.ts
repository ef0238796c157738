import { AsyncLocalStorage } from 'node:async_hooks';
import { REPO_NAMES, type AsyncRepo, type AsyncStore } from '../async-store.ts';
import type { SqliteStore } from './sqlite-store.ts';
import type { ChangeRepo } from '../store.ts';

/**
 * The SQLite store through the asynchronous port, so callers moved to `AsyncStore` keep SQLite as the embedded
 * default. Each repository call runs the synchronous method at once and settles with its result or error.
 *
 * A `transaction` holds SQLite's one connection across its callback's awaits, so while one is open every call from
 * outside it (from another request, another timer) waits for it to settle; calls made inside the callback, however
 * deep, join it (an AsyncLocalStorage tells them apart). Transactions from outside therefore run one after another,
 * as SQLite's single writer does anyway; a callback should not await anything slow (a cloud call) inside one.
 *
 * The change feed (`changes`, SQLite only) goes through the same gate: a read of it from outside an open transaction
 * would otherwise see that transaction's uncommitted rows (one connection), and the in-memory model would hold rows a
 * rollback then undoes.
 */
export function asyncSqliteStore(store: SqliteStore): AsyncStore & { readonly changes: AsyncRepo<ChangeRepo> } {
  // One port per store: two would each keep their own gate on the one connection, and neither would wait for the other.
  let port = ports.get(store);
  if (port === undefined) {
    port = new AsyncSqliteStore(store).port();
    ports.set(store, port);
  }
  return port;
}

const ports = new WeakMap<SqliteStore, AsyncStore & { readonly changes: AsyncRepo<ChangeRepo> }>();

class AsyncSqliteStore {
  readonly #store: SqliteStore;
  readonly #inside = new AsyncLocalStorage<true>();
  /** Settles when the open transaction does; undefined when none is open. */
  #open: Promise<void> | undefined;

  constructor(store: SqliteStore) {
    this.#store = store;
  }

  port(): AsyncStore & { readonly changes: AsyncRepo<ChangeRepo> } {
    const repos = Object.fromEntries(REPO_NAMES.map((name) => [name, this.#wrap(this.#store[name])]));
    return {
      ...(repos as { [K in keyof typeof repos]: never }),
      changes: this.#wrap(this.#store.changes),
      transaction: (fn) => this.#transaction(fn),
      close: async () => {
        await this.#idle();
        this.#store.close();
      },
    } as AsyncStore & { readonly changes: AsyncRepo<ChangeRepo> };
  }

  /**
   * A view of `repo` whose methods wait for another caller's open transaction, then run. With none open (or from
   * inside it) a method runs at once; the simulator makes hundreds of thousands of calls, so each wrapper is made once.
   */
  #wrap<R extends object>(repo: R): AsyncRepo<R> {
    const methods = new Map<PropertyKey, (...args: unknown[]) => Promise<unknown>>();
    return new Proxy(repo, {
      get: (target, property) => {
        const made = methods.get(property);
        if (made !== undefined) return made;
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const run = (args: unknown[]): unknown => (value as (...a: unknown[]) => unknown).apply(target, args);
        const method = (...args: unknown[]): Promise<unknown> => {
          if (this.#open !== undefined && this.#inside.getStore() !== true) return this.#afterOthers(() => run(args));
          try {
            return Promise.resolve(run(args));
          } catch (err) {
            return Promise.reject(err as Error);
          }
        };
        methods.set(property, method);
        return method;
      },
    }) as unknown as AsyncRepo<R>;
  }

  /** Runs `fn` once no transaction of another caller is open, checked right before it runs. */
  async #afterOthers<T>(fn: () => T): Promise<T> {
    while (this.#open !== undefined) await this.#open;
    return fn();
  }

  async #transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#inside.getStore() === true) return this.#store.transactionAsync(fn);
    // Checked and taken in one step: two callers woken by the same commit must not both begin.
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

  /** Waits until no transaction from another caller is open (another may start while a waiter wakes: loop). */
  async #idle(): Promise<void> {
    while (this.#open !== undefined) await this.#open;
  }
}
