import { Option, type Command } from 'commander';
import type { CreateTokenRequest, CreateTokenResponse } from '../../api/types.ts';
import { Role, type TokenRecord } from '../../store/store.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { parseDurationFlag } from '../duration.ts';
import { fetchList } from '../pages.ts';
import { parseIdArgument, parseIntFlag, parseListFlag, parseNameFlag } from '../flags.ts';
import { describeTeamScope } from '../../core/team-scope.ts';
import { formatTime, render, renderJson, type OutputFormat, type Table } from '../format.ts';

interface TokenOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

export function tokenTable(tokens: readonly TokenRecord[]): Table {
  return {
    columns: [
      { header: 'ID' },
      { header: 'ROLE' },
      { header: 'NAME' },
      { header: 'AGENT' },
      { header: 'CREATED' },
      { header: 'REVOKED' },
    ],
    rows: tokens.map((t) => [
      t.id,
      t.role,
      t.name,
      t.agentId ?? '-',
      formatTime(t.createdAtMs),
      formatTime(t.revokedAtMs) || '-',
    ]),
  };
}

export function tokenCommand(parent: Command, app: CliApp): void {
  const token = defineCommand(parent, 'token', 'create, list and revoke API tokens (admin role)');
  addExamples(token, [
    'spillway token create --role submitter --name alice',
    'spillway token list',
    'spillway token revoke tok-...',
  ]);

  const create = defineCommand(
    token,
    'create',
    'create a token and print it; it is shown this once, only its hash is kept',
  )
    .addOption(new Option('--role <role>', 'what the token may do').choices(Object.values(Role)).makeOptionMandatory())
    .requiredOption('--name <name>', 'who or what holds it, for `token list` and the audit log')
    .option('--max-agents <n>', 'role agent: register at most this many agents in all')
    .option('--site <site>', 'role agent: register agents at this private site only')
    .option('--expires <duration>', 'role agent: register no agent after this long (90s, 30m, 24h, 7d)')
    .option('--teams <a,b>', 'submitter and finance: act only for these teams (default: every team)')
    .option('--projects <a,b>', 'with --teams: act only for these projects within them');
  addConnectionOptions(create);
  addFormatOption(create, ['table', 'json']);
  addExamples(create, [
    'spillway token create --role submitter --name alice > alice.token',
    'spillway token create --role submitter --name vision-ci --teams vision,ml',
    'spillway token create --role agent --name rack-3 --format json',
    'spillway token create --role agent --name rack-3 --max-agents 8 --site rack-3 --expires 24h > rack-3.token',
  ]);
  create.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<
      TokenOptions & {
        readonly role: Role;
        readonly name: string;
        readonly maxAgents?: string;
        readonly site?: string;
        readonly expires?: string;
        readonly teams?: string;
        readonly projects?: string;
      }
    >();
    const body: CreateTokenRequest = {
      role: flags.role,
      name: parseNameFlag('--name', flags.name),
      ...(flags.maxAgents === undefined
        ? {}
        : { maxAgents: parseIntFlag('--max-agents', flags.maxAgents, { min: 1, max: 1_000_000 }) }),
      ...(flags.site === undefined ? {} : { site: parseNameFlag('--site', flags.site) }),
      ...(flags.expires === undefined ? {} : { expiresInMs: parseDurationFlag('--expires', flags.expires) }),
      ...(flags.teams !== undefined && { teams: parseListFlag('--teams', flags.teams) }),
      ...(flags.projects !== undefined && { projects: parseListFlag('--projects', flags.projects) }),
    };
    const created = await withClient(flags, app.ctx, (client) => client.post<CreateTokenResponse>('/v1/tokens', body));
    if (flags.format === 'json') {
      app.ctx.stdout.write(renderJson(created));
      return;
    }
    // The secret alone on stdout, so it can be redirected to a file; the note on stderr.
    app.ctx.stdout.write(`${created.token}\n`);
    const limits = [
      created.maxAgents === undefined ? '' : `at most ${created.maxAgents} agents`,
      created.site === undefined ? '' : `site ${created.site} only`,
      created.expiresAtMs === undefined ? '' : `until ${formatTime(created.expiresAtMs)}`,
    ].filter(Boolean);
    app.ctx.stderr.write(
      `created token ${created.id} (role ${created.role}, name ${created.name}` +
        `${created.scope ? `, ${describeTeamScope(created.scope)}` : ''}` +
        `${limits.length ? `; registers ${limits.join(', ')}` : ''}); it is shown only this once: store it now\n`,
    );
  });

  const list = defineCommand(token, 'list', 'list tokens (never their secrets), revoked ones included').option(
    '--all',
    'every token: follow the pages (100 tokens each) to the end',
  );
  addConnectionOptions(list);
  addFormatOption(list, ['table', 'json', 'csv']);
  addExamples(list, ['spillway token list', 'spillway token list --format csv']);
  list.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<TokenOptions & { readonly all?: boolean }>();
    const answer = await withClient(flags, app.ctx, (client) =>
      fetchList<'tokens', TokenRecord>(client, '/v1/tokens', 'tokens', flags.all === true),
    );
    app.ctx.stdout.write(render(flags.format, answer, () => tokenTable(answer.tokens)));
  });

  const revoke = defineCommand(token, 'revoke', 'revoke a token at once; revoking twice is not an error').argument(
    '<id>',
    'the token id (from token list), not the secret',
  );
  addConnectionOptions(revoke);
  addFormatOption(revoke, ['table', 'json']);
  addExamples(revoke, ['spillway token revoke tok-5d0c...']);
  revoke.action(async (id: string, _options: unknown, self: Command) => {
    const flags = self.opts<TokenOptions>();
    const path = `/v1/tokens/${parseIdArgument('ID', id)}`;
    const record = await withClient(flags, app.ctx, (client) => client.delete<TokenRecord>(path));
    app.ctx.stdout.write(
      flags.format === 'json'
        ? renderJson(record)
        : `revoked ${record.id} (role ${record.role}, name ${record.name})\n`,
    );
  });
}
