import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** One line of a text file and its 1-based number. */
export interface NumberedLine {
  readonly text: string;
  readonly line: number;
}

/**
 * Streams the lines of a text file, gunzipping a `.gz` file on the fly: a file of millions of lines is never held
 * whole, only the current chunk. Line endings (LF or CRLF) are removed. A missing file rejects with Node's ENOENT.
 */
export async function* readLines(path: string): AsyncGenerator<NumberedLine> {
  const file = createReadStream(path);
  const input: Readable = path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  file.on('error', (err) => input.destroy(err));
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      yield { text, line };
    }
  } finally {
    lines.close();
    file.destroy();
  }
}
