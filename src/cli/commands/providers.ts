import type { Command } from 'commander';
import type { ProviderRetry, Status } from '../../api/types.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { parseIdArgument } from '../flags.ts';
import { renderJson, type OutputFormat } from '../format.ts';
import { renderProviders } from './status.ts';

interface ProvidersOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

/** `spillway providers` (health and open launch breakers) and `spillway providers retry NAME`. */
export function providersCommand(parent: Command, app: CliApp): void {
  const providers = defineCommand(parent, 'providers', "each provider's health and open launch breakers");
  addConnectionOptions(providers);
  addFormatOption(providers, ['table', 'json']);
  addExamples(providers, ['spillway providers', 'spillway providers retry aws-ec2:us-east-1']);
  providers.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<ProvidersOptions>();
    const status = await withClient(flags, app.ctx, (client) => client.get<Status>('/v1/status'));
    app.ctx.stdout.write(
      flags.format === 'json'
        ? renderJson({ providers: status.providers })
        : renderProviders(status.providers).replace(/^\n/, '') || 'no cloud providers configured\n',
    );
  });

  const retry = defineCommand(
    providers,
    'retry',
    "close a provider's launch breakers after fixing what it refused, so the next pass launches there (admin, audited)",
  ).argument('<name>', 'the provider id (aws-ec2:us-east-1) or its name after the kind');
  addConnectionOptions(retry);
  addFormatOption(retry, ['table', 'json']);
  addExamples(retry, ['spillway providers retry aws-ec2:us-east-1', 'spillway providers retry us-east-1']);
  retry.action(async (name: string, _options: unknown, self: Command) => {
    const flags = self.opts<ProvidersOptions>();
    const path = `/v1/providers/${parseIdArgument('NAME', name)}/retry`;
    const answer = await withClient(flags, app.ctx, (client) => client.post<ProviderRetry>(path, {}));
    app.ctx.stdout.write(
      flags.format === 'json'
        ? renderJson(answer)
        : answer.closed > 0
          ? `closed ${answer.closed} launch breaker(s) of ${answer.providerId}: the next pass launches there again\n`
          : `${answer.providerId} had no open launch breaker\n`,
    );
  });
}
