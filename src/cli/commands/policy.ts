import type { Command } from 'commander';
import type { ApiClient } from '../../api/client.ts';
import type { Policy } from '../../core/policy.ts';
import { addConnectionOptions, addExamples, addFormatOption, defineCommand, type CliApp } from '../common-options.ts';
import { withClient, type ConnectionFlags } from '../connection.ts';
import { diffDotted, flattenDotted, parseAssignment } from '../dotted-keys.ts';
import { renderFields, renderJson, type OutputFormat } from '../format.ts';

interface PolicyOptions extends ConnectionFlags {
  readonly format: OutputFormat;
}

interface ChangeOptions extends PolicyOptions {
  readonly dryRun?: boolean;
}

function showValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The policy as dotted keys, the same keys `policy set` takes. */
export function renderPolicy(policy: Policy): string {
  return renderFields(flattenDotted(policy).map(([key, value]) => [key, showValue(value)] as const));
}

export function renderChanges(before: Policy, after: Policy, applied: boolean): string {
  const changes = diffDotted(before, after);
  if (changes.length === 0) return 'policy unchanged\n';
  const lines = changes.map(
    (c) => `  ${c.key}: ${showValue(c.before ?? '(unset)')} -> ${showValue(c.after ?? '(unset)')}`,
  );
  return `${applied ? 'policy updated' : 'dry run, nothing sent; would change'}:\n${lines.join('\n')}\n`;
}

async function replacePolicy(
  app: CliApp,
  flags: ChangeOptions,
  client: ApiClient,
  next: (current: Policy) => Policy,
): Promise<void> {
  const current = await client.get<Policy>('/v1/policy');
  const wanted = next(current);
  const changed = diffDotted(current, wanted).length > 0;
  if (flags.dryRun || !changed) {
    app.ctx.stdout.write(flags.format === 'json' ? renderJson(wanted) : renderChanges(current, wanted, false));
    return;
  }
  const saved = await client.put<Policy>('/v1/policy', wanted);
  app.ctx.stdout.write(flags.format === 'json' ? renderJson(saved) : renderChanges(current, saved, true));
}

export function policyCommand(parent: Command, app: CliApp): void {
  const policy = defineCommand(parent, 'policy', 'show or change the burst policy (admin role to change it; audited)');
  addExamples(policy, [
    'spillway policy get',
    'spillway policy set limits.maxInstances=4 spot.allowed=false',
    'spillway policy apply -f policy.yaml',
  ]);

  const get = defineCommand(policy, 'get', 'print the policy in force');
  addConnectionOptions(get);
  addFormatOption(get, ['table', 'json', 'yaml']);
  addExamples(get, ['spillway policy get', 'spillway policy get --format yaml > policy.yaml']);
  get.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<PolicyOptions>();
    const current = await withClient(flags, app.ctx, (client) => client.get<Policy>('/v1/policy'));
    const text =
      flags.format === 'json'
        ? renderJson(current)
        : flags.format === 'yaml'
          ? (await import('yaml')).stringify(current)
          : renderPolicy(current);
    app.ctx.stdout.write(text);
  });

  const set = defineCommand(
    policy,
    'set',
    'change some fields: reads the policy, edits it, validates the whole and writes it back',
  )
    .argument(
      '<assignments...>',
      'KEY=VALUE with dotted keys; values are JSON when they parse, else text; a list field also takes a,b,c',
    )
    .option('--dry-run', 'show what would change and send nothing');
  addConnectionOptions(set);
  addFormatOption(set, ['table', 'json']);
  addExamples(set, [
    'spillway policy set limits.maxInstances=4',
    'spillway policy set spot.allowed=false pendingGraceMs=30000',
    'spillway policy set regions=us-east-1,eu-west-1 instanceFamilies=\'["m7i.","c7i."]\'',
    'spillway policy set providerLimits.aws-ec2=\'{"maxInstances":10,"maxVcpus":80,"maxGpus":0}\' --dry-run',
  ]);
  set.action(async (assignments: string[], _options: unknown, self: Command) => {
    const flags = self.opts<ChangeOptions>();
    // Malformed assignments fail before any call; values are checked against the policy read back.
    for (const assignment of assignments) parseAssignment(assignment);
    // Loaded on use: zod, which validation needs, is slow to load for commands that never validate a policy.
    const { editPolicy } = await import('../policy-edit.ts');
    await withClient(flags, app.ctx, (client) =>
      replacePolicy(app, flags, client, (current) => editPolicy(current, assignments)),
    );
  });

  const apply = defineCommand(
    policy,
    'apply',
    'replace the whole policy with a YAML or JSON file (every field required)',
  )
    .requiredOption('-f, --file <file>', 'the policy file, YAML or JSON; - reads stdin')
    .option('--dry-run', 'validate and show what would change, send nothing');
  addConnectionOptions(apply);
  addFormatOption(apply, ['table', 'json']);
  addExamples(apply, [
    'spillway policy apply -f policy.yaml',
    "spillway policy get --format json | jq '.limits.maxInstances = 4' | spillway policy apply -f -",
  ]);
  apply.action(async (_options: unknown, self: Command) => {
    const flags = self.opts<ChangeOptions & { readonly file: string }>();
    const { readPolicyFile } = await import('../policy-edit.ts');
    const wanted = readPolicyFile(flags.file, app.ctx);
    await withClient(flags, app.ctx, (client) => replacePolicy(app, flags, client, () => wanted));
  });
}
