import type { Command } from 'commander';
import type { CliApp } from '../common-options.ts';
import { killSwitchCommand } from './pause.ts';

export function resumeCommand(parent: Command, app: CliApp): void {
  killSwitchCommand(parent, app, 'resume');
}
