import type { OutputStream } from '../cli/context.ts';

/**
 * A one-line progress bar redrawn in place on a terminal (`\r`), at most every 100 ms of wall time. On anything
 * else (a pipe, a file, a test's buffer) it writes nothing, so output stays clean.
 */
export class ProgressBar {
  readonly #stream: OutputStream;
  readonly #total: number | undefined;
  readonly #now: () => number;
  #lastDrawMs = 0;
  #drawn = false;

  constructor(stream: OutputStream, total: number | undefined, now: () => number = () => performance.now()) {
    this.#stream = stream;
    this.#total = total;
    this.#now = now;
  }

  get enabled(): boolean {
    return this.#stream.isTTY === true;
  }

  update(label: string, done: number): void {
    if (!this.enabled || this.#now() - this.#lastDrawMs < 100) return;
    this.#lastDrawMs = this.#now();
    const width = 30;
    const fraction = this.#total ? Math.min(1, done / this.#total) : 0;
    const bar = this.#total ? `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}] ` : '';
    const count = this.#total ? `${done}/${this.#total}` : `${done}`;
    this.#stream.write(`\r${label.padEnd(17)} ${bar}${count} tasks`);
    this.#drawn = true;
  }

  /** Clears the line, if one was drawn. */
  done(): void {
    if (this.#drawn) this.#stream.write(`\r${' '.repeat(70)}\r`);
    this.#drawn = false;
  }
}
