/**
 * A function that calls `make` on its first call only and returns that first result ever after (a promise included,
 * settled or not; a throw is not remembered). For a module's lazily loaded dependency: the first caller starts the
 * load and every later one shares it.
 */
export function once<T>(make: () => T): () => T {
  let made: { readonly value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
