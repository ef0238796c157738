import winston from 'winston';
import type { Writable } from 'node:stream';
import { redactSecrets } from '../core/credentials.ts';

export type Logger = winston.Logger;

export interface LoggerOptions {
  readonly level?: string;
  /** Where lines go; default stderr. */
  readonly stream?: Writable;
  /** JSON lines (default when the stream is not a terminal) or readable lines. */
  readonly json?: boolean;
  readonly defaultMeta?: Record<string, unknown>;
}

/** Scrubs anything shaped like a Spillway token from every line, whatever field it hides in. */
const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (typeof value === 'string') info[key] = redactSecrets(value);
    else if (value !== null && typeof value === 'object' && !(value instanceof Error)) {
      info[key] = JSON.parse(redactSecrets(JSON.stringify(value)));
    }
  }
  return info;
});

/** One line per event: JSON when not on a terminal, `time level message key=value` on one. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const json = opts.json ?? !(stream as { isTTY?: boolean }).isTTY;
  const format = json
    ? winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), redact(), winston.format.json())
    : winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss' }),
        redact(),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...fields }) => {
          const rest = Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          return `${String(timestamp)} ${level} ${String(message)}${rest ? ` ${rest}` : ''}`;
        }),
      );
  return winston.createLogger({
    level: opts.level ?? 'info',
    format,
    defaultMeta: opts.defaultMeta,
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  const logger = winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
  // Winston builds and pipes every entry before the silent transport drops it: several microseconds a call, and a
  // replayed year (the simulator logs through this) makes hundreds of thousands. Dropped at the call instead.
  const drop = (): Logger => logger;
  for (const level of Object.keys(logger.levels)) (logger as unknown as Record<string, () => Logger>)[level] = drop;
  logger.log = drop as Logger['log'];
  return logger;
}
