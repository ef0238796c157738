import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs a bench/lib script in a child Node process (the same Node as this one) and parses the JSON line it prints
 * last. Memory figures come from children so each measurement has a process of its own.
 */
export function runChild<T>(
  script: string,
  args: readonly (string | number)[],
  opts: { timeoutMs?: number } = {},
): Promise<T> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path, ...args.map(String)],
      { timeout: opts.timeoutMs ?? 600_000, maxBuffer: 16 * 2 ** 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(last) as T);
        } catch {
          reject(new Error(`${script} printed no JSON: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}
