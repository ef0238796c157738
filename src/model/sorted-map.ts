/**
 * A map whose values are also kept in an order (a total one: no two values compare equal). The order is mended
 * between reads rather than rebuilt: values added since the last read are sorted alone and merged in, values removed
 * are filtered out, so reading a large map of which a few values changed costs a pass over it, not a sort.
 */
export class SortedMap<K, V> {
  readonly #compare: (a: V, b: V) => number;
  readonly #entries = new Map<K, { readonly value: V }>();
  #sorted: { readonly value: V }[] = [];
  #added: { readonly value: V }[] = [];
  /** Boxes (by identity: a key may leave and come back) to drop from `#sorted` or `#added`. */
  #removed = new Set<{ readonly value: V }>();
  #values: V[] | undefined;

  constructor(compare: (a: V, b: V) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Adds or replaces the value of `key`. */
  set(key: K, value: V): void {
    this.delete(key);
    const box = { value };
    this.#entries.set(key, box);
    this.#added.push(box);
    this.#values = undefined;
  }

  /** Returns whether `key` was there. */
  delete(key: K): boolean {
    const box = this.#entries.get(key);
    if (box === undefined) return false;
    this.#entries.delete(key);
    this.#removed.add(box);
    this.#values = undefined;
    return true;
  }

  clear(): void {
    this.#entries.clear();
    this.#sorted = [];
    this.#added = [];
    this.#removed = new Set();
    this.#values = undefined;
  }

  /** The values in order; the same array until the next change. */
  values(): readonly V[] {
    if (this.#values !== undefined) return this.#values;
    const removed = this.#removed;
    const kept = removed.size === 0 ? this.#sorted : this.#sorted.filter((b) => !removed.has(b));
    const compare = (a: { readonly value: V }, b: { readonly value: V }): number => this.#compare(a.value, b.value);
    const added = this.#added.filter((b) => !removed.has(b)).sort(compare);
    this.#sorted = added.length === 0 ? kept : merge(kept, added, compare);
    this.#added = [];
    this.#removed = new Set();
    this.#values = this.#sorted.map((b) => b.value);
    return this.#values;
  }
}

function merge<T>(a: readonly T[], b: readonly T[], compare: (x: T, y: T) => number): T[] {
  const out = new Array<T>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = compare(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
