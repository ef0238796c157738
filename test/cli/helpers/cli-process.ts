import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI entry the tests run, as a user would: `node src/cli/main.ts ...`. */
export const CLI_ENTRY = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  readonly cwd: string;
  /** Added to the environment; every SPILLWAY_* variable of the test runner is removed first. */
  readonly env?: Readonly<Record<string, string>>;
  /** Killed (SIGKILL) after this long, so a hung CLI fails the test instead of hanging it. Default 20 s. */
  readonly timeoutMs?: number;
}

const running = new Set<ChildProcess>();

/** The runner's environment without SPILLWAY_* variables, so the developer's own settings do not leak in. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SPILLWAY_')) env[key] = value;
  return { ...env, ...extra };
}

/**
 * Runs the CLI as a child process on this Node and collects its output. Asynchronous on purpose: a test that serves
 * the API in this process must keep its event loop free while the CLI calls it.
 */
export function runCliProcess(args: readonly string[], opts: CliRunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      cwd: opts.cwd,
      env: cleanEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Kills every CLI child still running; for after() hooks, so no test leaves a process behind. */
export function killRunningClis(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** A fresh temp folder and its removal. */
export function tempDir(prefix: string): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A CLI child that keeps running (serve, agent), with its output so far and its end. */
export interface LongCliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout or stderr, as soon as the output holds it. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<CliResult>;
}

/** Starts the CLI and returns at once; killRunningClis() kills it if the test does not end it. */
export function startCliProcess(args: readonly string[], opts: CliRunOptions): LongCliProcess {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  const onData = (): void => watchers.forEach((check) => check());
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    onData();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    onData();
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running.delete(child);
      onData();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(
            new Error(`no output matching ${pattern} within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`),
          );
        }, timeoutMs);
        const check = (): void => {
          const match = pattern.exec(stdout) ?? pattern.exec(stderr);
          const ended = child.exitCode !== null || child.signalCode !== null;
          if (!match && !ended) return;
          clearTimeout(timer);
          watchers.delete(check);
          if (match) resolve(match);
          else reject(new Error(`the CLI ended before printing ${pattern}; stdout:\n${stdout}\nstderr:\n${stderr}`));
        };
        watchers.add(check);
        check();
      });
    },
  };
}
