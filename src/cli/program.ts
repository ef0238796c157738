import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { agentCommand } from './commands/agent.ts';
import { agentsCommand } from './commands/agents.ts';
import { budgetCommand } from './commands/budget.ts';
import { configCommand } from './commands/config.ts';
import { consoleCommand } from './commands/console.ts';
import { decisionsCommand } from './commands/decisions.ts';
import { pauseCommand } from './commands/pause.ts';
import { providersCommand } from './commands/providers.ts';
import { policyCommand } from './commands/policy.ts';
import { reportCommand } from './commands/report.ts';
import { resumeCommand } from './commands/resume.ts';
import { runCommand } from './commands/run.ts';
import { serveCommand } from './commands/serve.ts';
import { simulateCommand } from './commands/simulate.ts';
import { statusCommand } from './commands/status.ts';
import { submitCommand } from './commands/submit.ts';
import { tasksCommand } from './commands/tasks.ts';
import { tokenCommand } from './commands/token.ts';
import { addExamples, type CliApp } from './common-options.ts';
import type { CliContext } from './context.ts';
import { reportError } from './exit-codes.ts';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The `spillway` command tree. Commander errors throw (exitOverride) instead of exiting, so runCli maps them. */
export function buildProgram(app: CliApp): Command {
  const { ctx } = app;
  const program = new Command('spillway')
    .description('Spillway: one pool of compute across private machines and public clouds')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      outputError: (text, write) => write(`spillway: ${text.replace(/^error: /, '')}`),
    })
    // Lets `submit` and `run` pass every flag after the task's command on to the task.
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .showHelpAfterError('(see "spillway --help" for the commands)');
  program.addHelpText(
    'after',
    '\nEnvironment: SPILLWAY_URL, SPILLWAY_TOKEN, SPILLWAY_CA_FILE, SPILLWAY_HOME (default .spillway: where `serve`\n' +
      'writes api.url and admin.token, which the other commands read when no URL or token is given), SPILLWAY_DEBUG=1\n' +
      '(stack traces). Exit status: 0 ok, 1 the API or the run failed, 2 a bad flag or value (nothing was sent).',
  );
  addExamples(program, [
    'spillway serve',
    'spillway submit --cpu 1 --memory 512Mi --count 6 -- sleep 20',
    'spillway status',
    'spillway run --cpu 2 --memory 1Gi -- python -c "print(42)"',
  ]);

  serveCommand(program, app);
  agentCommand(program, app);
  submitCommand(program, app);
  runCommand(program, app);
  statusCommand(program, app);
  tasksCommand(program, app);
  agentsCommand(program, app);
  policyCommand(program, app);
  pauseCommand(program, app);
  resumeCommand(program, app);
  providersCommand(program, app);
  tokenCommand(program, app);
  budgetCommand(program, app);
  reportCommand(program, app);
  configCommand(program, app);
  simulateCommand(program, app);
  consoleCommand(program, app);
  decisionsCommand(program, app);
  return program;
}

/** Runs one command line (without `node` and the script) and returns the process exit code. */
export async function runCli(args: readonly string[], ctx: CliContext): Promise<number> {
  let exitCode = 0;
  const app: CliApp = {
    ctx,
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  try {
    await buildProgram(app).parseAsync([...args], { from: 'user' });
  } catch (err) {
    return reportError(err, ctx);
  }
  return exitCode;
}
