import type { TaskHeader } from '../core/task.ts';
import type { Recorded } from '../store/store.ts';

/**
 * Pending tasks in the order the pool serves them: highest priority first, then longest waiting, then record order
 * (as `TaskRepo.pending`). The order is kept between reads: what was added since is sorted alone and merged in, what
 * left is filtered out, so a pass over 100,000 pending tasks of which a few changed does not sort them all again.
 */
export class PendingQueue {
  readonly #entries = new Map<string, Recorded<TaskHeader>>();
  #sorted: Recorded<TaskHeader>[] = [];
  #added: Recorded<TaskHeader>[] = [];
  /** Entries (by identity: a task may leave and come back as a new entry) to drop from `#sorted` or `#added`. */
  #removed = new Set<Recorded<TaskHeader>>();
  #headers: TaskHeader[] | undefined;

  add(entry: Recorded<TaskHeader>): void {
    this.delete(entry.row.id);
    this.#entries.set(entry.row.id, entry);
    this.#added.push(entry);
    this.#headers = undefined;
  }

  /** Returns whether the task was pending here. */
  delete(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#entries.delete(id);
    this.#removed.add(entry);
    this.#headers = undefined;
    return true;
  }

  clear(): void {
    this.#entries.clear();
    this.#sorted = [];
    this.#added = [];
    this.#removed = new Set();
    this.#headers = undefined;
  }

  ordered(): readonly TaskHeader[] {
    if (this.#headers !== undefined) return this.#headers;
    const removed = this.#removed;
    const kept = removed.size === 0 ? this.#sorted : this.#sorted.filter((e) => !removed.has(e));
    const added = this.#added.filter((e) => !removed.has(e)).sort(servedBefore);
    this.#sorted = added.length === 0 ? kept : merge(kept, added);
    this.#added = [];
    this.#removed = new Set();
    this.#headers = this.#sorted.map((e) => e.row);
    return this.#headers;
  }
}

function servedBefore(a: Recorded<TaskHeader>, b: Recorded<TaskHeader>): number {
  return b.row.priority - a.row.priority || a.row.pendingSinceMs - b.row.pendingSinceMs || a.seq - b.seq;
}

function merge(a: readonly Recorded<TaskHeader>[], b: readonly Recorded<TaskHeader>[]): Recorded<TaskHeader>[] {
  const out: Recorded<TaskHeader>[] = new Array<Recorded<TaskHeader>>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = servedBefore(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
