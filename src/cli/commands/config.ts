import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { providersFromPulumi } from '../../config/from-pulumi.ts';
import { errorMessage, ValidationError } from '../../core/errors.ts';
import { addExamples, defineCommand, type CliApp } from '../common-options.ts';
import { ExitCode } from '../exit-codes.ts';

interface FromPulumiOptions {
  readonly output?: string;
}

/** Reads OUTPUTS.json (`-` for standard input) and parses it; a ValidationError names the file when either fails. */
function readOutputs(file: string, cwd: string): unknown {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(resolve(cwd, file), 'utf8');
  } catch (err) {
    throw new ValidationError('OUTPUTS.json', `cannot read ${file}: ${errorMessage(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ValidationError(
      'OUTPUTS.json',
      `${file} is not JSON (use \`pulumi stack output --json\`): ${errorMessage(err)}`,
    );
  }
}

export function configCommand(parent: Command, app: CliApp): void {
  const config = defineCommand(parent, 'config', 'make spillway.yaml sections from other tools’ output');
  addExamples(config, ['spillway config from-pulumi outputs.json']);

  const cmd = defineCommand(
    config,
    'from-pulumi',
    'turn the infra/ stack’s outputs (`pulumi stack output --json`) into the providers section of spillway.yaml',
  )
    .argument('<outputs>', 'the JSON `pulumi stack output --json` printed, or - for standard input')
    .option('-o, --output <file>', 'write the section to this file instead of standard output');
  cmd.addHelpText(
    'after',
    '\nSecret outputs print as [secret] unless `pulumi stack output` was given --show-secrets; a needed one is refused\n' +
      'with its name, the others are skipped. Nothing is sent anywhere: it only reads the file.',
  );
  addExamples(cmd, [
    'pulumi -C infra stack output --json > outputs.json && spillway config from-pulumi outputs.json',
    'pulumi -C infra stack output --json --show-secrets | spillway config from-pulumi - -o providers.yaml',
  ]);
  cmd.action((outputsFile: string, _options: unknown, self: Command) => {
    const flags = self.opts<FromPulumiOptions>();
    const result = providersFromPulumi(readOutputs(outputsFile, app.ctx.cwd), 'OUTPUTS.json');
    const header = [
      '# The providers section of spillway.yaml, from the infra/ Pulumi stack outputs.',
      ...(result.clusterId === undefined
        ? []
        : [`# The stack was deployed for clusterId ${result.clusterId}: spillway.yaml must say the same.`]),
      ...(result.secretOutputsSkipped.length === 0
        ? []
        : [`# Secret outputs not needed here: ${result.secretOutputsSkipped.join(', ')}.`]),
    ];
    const text = `${header.join('\n')}\n${stringify({ providers: result.providers }, { lineWidth: 0 })}`;
    if (flags.output === undefined) {
      app.ctx.stdout.write(text);
    } else {
      const target = resolve(app.ctx.cwd, flags.output);
      writeFileSync(target, text);
      app.ctx.stderr.write(`wrote ${result.providers.length} provider(s) to ${flags.output}\n`);
    }
    app.setExitCode(ExitCode.ok);
  });
}
