/** Where a command writes and what it reads from its environment: the real process, or a test's stand-ins. */
export interface CliContext {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The folder local defaults (`.spillway/`) are resolved against. */
  readonly cwd: string;
}

export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export function processContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Writes `text` as whole lines: a missing final newline is added. */
export function writeLines(stream: OutputStream, text: string): void {
  if (text === '') return;
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}
