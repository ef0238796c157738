import type { ChangeRepo, Store } from './store.ts';

/**
 * A repository of the store port with every method returning a promise of what the synchronous one returns: the shape
 * a server database (PostgreSQL) can implement. Derived from the synchronous repositories, so both ports can never
 * disagree on names, arguments or results.
 */
export type AsyncRepo<R> = {
  readonly [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => Promise<Awaited<T>> : R[K];
};

/**
 * The repositories of the store port, by name. The change feed (`changes`, the in-memory model's revisions) is not
 * one of them: it only reads, each engine builds it its own way (SQLite: a revision counter under its single writer;
 * PostgreSQL: writers' transaction ids read up to a safe watermark), and views of a store (a leader's fenced view)
 * pass it through unchanged.
 */
export type RepoName = Exclude<keyof Store, 'transaction' | 'close' | 'changes'>;

/** Every repository name, checked complete against `Store` by the compiler. */
const REPO_NAMES_SET: Record<RepoName, true> = {
  meta: true,
  tasks: true,
  agents: true,
  intents: true,
  tokens: true,
  policy: true,
  audit: true,
  lease: true,
  ledger: true,
  budgets: true,
  registrations: true,
  console: true,
};
export const REPO_NAMES = Object.keys(REPO_NAMES_SET) as readonly RepoName[];

/**
 * The store port made asynchronous (issue 15 moves its call sites here; issue 17's PostgreSQL store implements it).
 * The same contract as `Store`, method for method: every method is one transaction unless it runs inside
 * `transaction`, whose callback is one transaction as a whole, however many awaits it holds (nested calls join it:
 * a nested `transaction` that throws undoes only its own writes). A method that finds its precondition false rejects
 * with NotFoundError or ConflictError and changes nothing.
 */
export type AsyncStore = { readonly [K in RepoName]: AsyncRepo<Store[K]> } & {
  /**
   * The change feed the in-memory model (src/model/) reads; it never shows uncommitted rows (SQLite: it waits like
   * every other repository for another caller's open transaction; PostgreSQL: src/store/postgres/change-repo.ts).
   * Optional so a test double may leave it out; both engines have it.
   */
  readonly changes?: AsyncRepo<ChangeRepo>;
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Closing twice is not an error. */
  close(): Promise<void>;
};
