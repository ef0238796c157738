import type { Command } from 'commander';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { resolveConnection, withClient, type ConnectionFlags } from '../connection.ts';
import { renderJson, type OutputFormat } from '../format.ts';

interface ConsoleOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

interface ConsoleCode {
  readonly code: string;
  readonly expiresAtMs: number;
  readonly path: string;
}

/** `spillway console`: prints a one-time link that signs the browser in with this token's role and team scope. */
export function consoleCommand(parent: Command, app: CliApp): void {
  const cmd = defineCommand(
    parent,
    'console',
    'print a one-time link to the web console (valid 5 minutes, once), signed in with this token’s role and scope',
  );
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json']);
  addExamples(cmd, ['spillway console', 'SPILLWAY_TOKEN=… spillway console --url https://spillway.example:7070']);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<ConsoleOptions>();
    const { url } = resolveConnection(flags, app.ctx);
    const answer = await withClient(flags, app.ctx, (client) => client.post<ConsoleCode>('/v1/console/codes', {}));
    const link = new URL(answer.path, url).toString();
    app.ctx.stdout.write(
      flags.format === 'json'
        ? renderJson({ ...answer, url: link })
        : `Open this link within 5 minutes (it works once):\n${link}\n`,
    );
  });
}
