import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.ts';

/** A debug-level JSON logger whose every line is kept, so a test can read what was logged. */
export interface LogCapture {
  readonly logger: Logger;
  /** Everything written so far, as one string. */
  text(): string;
  /** The lines written so far, parsed. */
  lines(): Record<string, unknown>[];
}

export function captureLogs(): LogCapture {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: 'debug', stream, json: true });
  const text = (): string => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
