/**
 * The last `maxBytes` bytes of a task's combined output. The agent reports only this tail: the controller keeps the
 * end of a task's output for people, not its whole log.
 */
export class OutputTail {
  readonly #maxBytes: number;
  #buffer: Buffer = Buffer.alloc(0);
  #version = 0;

  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) {
      throw new RangeError(`outputTailBytes: expected a positive integer, got ${String(maxBytes)}`);
    }
    this.#maxBytes = maxBytes;
  }

  /** Appends a chunk, keeping only the last `maxBytes` bytes. */
  append(chunk: Buffer | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (data.length === 0) return;
    if (data.length >= this.#maxBytes) {
      this.#buffer = Buffer.from(data.subarray(data.length - this.#maxBytes));
    } else {
      const joined = Buffer.concat([this.#buffer, data]);
      this.#buffer = joined.length > this.#maxBytes ? joined.subarray(joined.length - this.#maxBytes) : joined;
    }
    this.#version += 1;
  }

  /** Grows on every append: a reporter compares it with the version it last sent. */
  get version(): number {
    return this.#version;
  }

  get byteLength(): number {
    return this.#buffer.length;
  }

  /** The tail as UTF-8, starting at a character boundary (a cut multi-byte character is dropped, not mangled). */
  text(): string {
    let start = 0;
    while (start < this.#buffer.length && start < 3 && ((this.#buffer[start] ?? 0) & 0xc0) === 0x80) start += 1;
    return this.#buffer.subarray(start).toString('utf8');
  }
}
