/**
 * A priority queue of timed events (a binary heap): earliest first; at the same time, lower `rank` first, then
 * insertion order, so a run is deterministic.
 */
export class EventQueue<E> {
  #heap: { atMs: number; rank: number; seq: number; event: E }[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(atMs: number, event: E, rank = 0): void {
    const heap = this.#heap;
    heap.push({ atMs, rank, seq: this.#seq++, event });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** When the earliest event falls; undefined when empty. */
  peekTime(): number | undefined {
    return this.#heap[0]?.atMs;
  }

  pop(): { atMs: number; event: E } | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#less(l, m)) m = l;
        if (r < heap.length && this.#less(r, m)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return { atMs: top.atMs, event: top.event };
  }

  #less(a: number, b: number): boolean {
    const x = this.#heap[a]!;
    const y = this.#heap[b]!;
    return x.atMs !== y.atMs ? x.atMs < y.atMs : x.rank !== y.rank ? x.rank < y.rank : x.seq < y.seq;
  }
}
