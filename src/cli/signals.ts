/** The signals that ask `serve` and `agent` to shut down cleanly. */
const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

export interface ShutdownWatch {
  /** Resolves with the first SIGINT or SIGTERM. */
  readonly signal: Promise<ShutdownSignal>;
  /** Removes the handlers, giving the signals their default meaning back. */
  dispose(): void;
}

/**
 * Watches for SIGINT and SIGTERM. The first starts a clean shutdown; a second one means the operator will not wait,
 * and `onInsist` runs (it should exit at once).
 */
export function watchShutdown(onInsist: (signal: ShutdownSignal) => void): ShutdownWatch {
  let received = false;
  let resolveSignal: (signal: ShutdownSignal) => void = () => {};
  const signal = new Promise<ShutdownSignal>((resolve) => {
    resolveSignal = resolve;
  });
  const handlers = SHUTDOWN_SIGNALS.map((name) => {
    const handler = (): void => {
      if (received) return onInsist(name);
      received = true;
      resolveSignal(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}

/**
 * After a shutdown, a handle someone forgot must not keep the process alive: exit anyway after `ms`, with the exit
 * code the CLI has set by then (process.exitCode).
 */
export function exitIfStillAlive(ms = 5_000): void {
  setTimeout(() => process.exit(), ms).unref();
}
