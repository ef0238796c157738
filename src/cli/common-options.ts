import { Option, type Command } from 'commander';
import type { CliContext } from './context.ts';
import { OutputFormat } from './format.ts';

/** What every command's action gets besides its flags: the streams and environment, and a way to set the exit code. */
export interface CliApp {
  readonly ctx: CliContext;
  setExitCode(code: number): void;
}

/**
 * Adds a subcommand with the settings every command shares: a help hint after errors that names the command.
 * Settings such as exitOverride and output are inherited from the program (see program.ts).
 */
export function defineCommand(parent: Command, name: string, description: string): Command {
  const cmd = parent.command(name).description(description);
  cmd.showHelpAfterError(`(see "${commandPath(cmd)} --help" for the flags and examples)`);
  return cmd;
}

export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Appends an `Examples:` section to the command's --help; each example is a command line without `$ `. */
export function addExamples(cmd: Command, examples: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}

/** --url, --token and --ca-file, with their environment variables and local defaults. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'controller API URL (default: $SPILLWAY_URL, else .spillway/api.url)')
    .option(
      '--token <token>',
      'API token (default: $SPILLWAY_TOKEN, else .spillway/admin.token for the local controller)',
    )
    .option('--ca-file <file>', 'PEM CA bundle to verify an https controller (default: $SPILLWAY_CA_FILE)');
}

/** --format, limited to the formats the command can print; default table. */
export function addFormatOption(cmd: Command, formats: readonly OutputFormat[]): Command {
  return cmd.addOption(new Option('--format <format>', 'output format').choices(formats).default(OutputFormat.table));
}

/** The task flags `submit` and `run` share; task-spec.ts validates them. */
export function addTaskOptions(cmd: Command): Command {
  return cmd
    .option('--cpu <cores>', 'required: CPU to reserve, in cores (2, 0.5) or millicores (500m)')
    .option('--memory <quantity>', 'required: memory to reserve: 512Mi, 4Gi, 1.5G, or a byte count')
    .option('--gpus <n>', 'GPUs to reserve (default: 0)')
    .option('--net-mbps <n>', 'network bandwidth to reserve, in Mbit/s (default: 0)')
    .option('--team <team>', 'owning team, for budgets and chargeback (default: default)')
    .option('--project <project>', 'owning project (default: default)')
    .option('--job <job>', 'owning job (default: default)')
    .option('--priority <n>', 'higher runs first (default: 0)')
    .option('--revocable', 'may run on spot capacity and may be preempted (it is then requeued)')
    .option('--private-only', 'never burst: run only on private machines');
}
