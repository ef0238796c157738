import type { Command } from 'commander';
import { dirname, relative, resolve } from 'node:path';
import { addExamples, defineCommand, type CliApp } from '../common-options.ts';
import { spillwayHome } from '../connection.ts';
import { ExitCode } from '../exit-codes.ts';
import { exitIfStillAlive, watchShutdown } from '../signals.ts';

interface ServeOptions {
  readonly config?: string;
}

export function serveCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(
    parent,
    'serve',
    'run the controller: API, pool and control loop (the demo without --config)',
  ).option(
    '--config <file>',
    'spillway.yaml to run with (default: the embedded demo: local cloud, two private agents)',
  );
  cmd.addHelpText(
    'after',
    '\nOn start it writes <home>/api.url and <home>/admin.token (mode 0600; home is .spillway by default), which the\n' +
      'other commands run in this folder read by themselves. SIGTERM or Ctrl-C closes it cleanly.',
  );
  addExamples(cmd, ['spillway serve', 'spillway serve --config spillway.yaml']);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<ServeOptions>();
    // Loaded here, not at the top: client commands should not pay for the server's modules.
    const [{ loadConfig }, { createLogger }, { serve }] = await Promise.all([
      import('../../config/load.ts'),
      import('../../log/logger.ts'),
      import('../../main.ts'),
    ]);
    const configPath = flags.config === undefined ? undefined : resolve(app.ctx.cwd, flags.config);
    const config = loadConfig(configPath);
    const logger = createLogger({ level: config.log.level });

    const shutdown = watchShutdown((signal) => {
      app.ctx.stderr.write(`spillway: ${signal} again: exiting without a clean close\n`);
      process.exit(ExitCode.cancelled);
    });
    try {
      // A variable, not a literal: `configPath` is part of serve's contract but optional for it to use.
      const serveOptions = { logger, configPath };
      const server = await serve(config, serveOptions);
      app.ctx.stdout.write(startBanner(server.url, server.adminTokenFile, app));
      const signal = await shutdown.signal;
      app.ctx.stderr.write(`received ${signal}: closing\n`);
      await server.close();
      app.setExitCode(ExitCode.ok);
    } finally {
      shutdown.dispose();
      exitIfStillAlive();
    }
  });
}

/** What a person needs after start: where the API is, where the admin token is, and what to type next. */
export function startBanner(url: string, adminTokenFile: string, app: Pick<CliApp, 'ctx'>): string {
  const tokenDir = resolve(app.ctx.cwd, dirname(adminTokenFile));
  const shown = relative(app.ctx.cwd, resolve(app.ctx.cwd, adminTokenFile)) || adminTokenFile;
  const sameHome = tokenDir === spillwayHome(app.ctx);
  const lines = [
    `spillway is serving its API at ${url}`,
    `admin token: ${shown} (mode 0600)${sameHome ? '; commands run in this folder read it by themselves' : ''}`,
    'next, in another terminal in this folder:',
    ...(sameHome ? [] : [`  export SPILLWAY_HOME=${tokenDir}`]),
    '  npx spillway submit --cpu 1 --memory 512Mi --count 6 -- sleep 20',
    '  npx spillway status',
    '  npx spillway console    # a one-time link to the web console',
    'Ctrl-C stops the controller.',
  ];
  return `${lines.join('\n')}\n`;
}
