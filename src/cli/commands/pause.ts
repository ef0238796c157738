import type { Command } from 'commander';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { renderJson, type OutputFormat } from '../format.ts';

interface SwitchOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

/** `pause` and `resume` flip the same switch; this builds either. */
export function killSwitchCommand(parent: Command, app: CliApp, action: 'pause' | 'resume'): void {
  const description =
    action === 'pause'
      ? 'the kill switch: launch nothing more in any cloud until `resume` (running work continues; admin, audited)'
      : 'lift `pause`: launches may happen again (admin, audited)';
  const cmd = defineCommand(parent, action, description);
  addConnectionOptions(cmd);
  addFormatOption(cmd, ['table', 'json']);
  addExamples(cmd, action === 'pause' ? ['spillway pause', 'spillway pause && spillway status'] : ['spillway resume']);
  cmd.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<SwitchOptions>();
    const answer = await withClient(flags, app.ctx, (client) => client.post<{ paused: boolean }>(`/v1/${action}`, {}));
    const text = answer.paused
      ? 'launches paused: nothing new will be launched until `spillway resume`\n'
      : 'launches resumed\n';
    app.ctx.stdout.write(flags.format === 'json' ? renderJson(answer) : text);
  });
}

export function pauseCommand(parent: Command, app: CliApp): void {
  killSwitchCommand(parent, app, 'pause');
}
