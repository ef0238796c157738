import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { runProgram, settingsInput } from '../../infra/test/pulumi-mocks.ts';
import { killRunningClis, runCliProcess, tempDir, type CliResult } from './helpers/cli-process.ts';

/**
 * `spillway config from-pulumi` on what `pulumi stack output --json` prints for the infra/ program: the outputs come
 * from running the program itself on Pulumi's mocks, so the sample cannot drift from what the program exports.
 */
describe('cli: config from-pulumi', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let shown: Record<string, unknown>;

  before(async () => {
    dir = tempDir('spillway-from-pulumi-');
    // --show-secrets prints every value; JSON round trip as the CLI prints it.
    shown = JSON.parse(JSON.stringify((await runProgram(settingsInput())).outputs)) as Record<string, unknown>;
  });
  after(() => {
    killRunningClis();
    dir?.remove();
  });

  function write(name: string, value: unknown): string {
    const path = join(dir.path, name);
    writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
    return path;
  }

  function cli(args: readonly string[]): Promise<CliResult> {
    return runCliProcess(['config', 'from-pulumi', ...args], { cwd: dir.path });
  }

  it('turns outputs printed with --show-secrets into a providers section spillway.yaml accepts', async () => {
    const result = await cli([write('shown.json', shown)]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /clusterId prod-1/);
    const section = parse(result.stdout) as { providers: Record<string, unknown>[] };
    const config = parseConfig({ clusterId: 'prod-1', providers: section.providers });
    const [aws, gcp] = config.providers;
    assert.equal(aws?.kind, 'aws-ec2');
    assert.equal(gcp?.kind, 'gcp-compute');
    if (aws?.kind !== 'aws-ec2' || gcp?.kind !== 'gcp-compute') return;
    assert.equal(aws.region, 'us-east-1');
    assert.deepEqual(aws.launchTemplate, { id: shown.awsLaunchTemplateId, version: '$Default' });
    assert.deepEqual(aws.subnets, shown.awsSubnets);
    assert.deepEqual(
      aws.instanceTypes.map((t) => t.instanceType),
      shown.awsInstanceTypes,
    );
    assert.equal(aws.bootScript.template, shown.awsBootScriptTemplate);
    assert.equal(gcp.project, 'mock-project');
    assert.deepEqual(gcp.zones, shown.gcpZones);
    assert.equal(gcp.instanceTemplate, 'projects/mock-project/spillway-prod-1-agents');
    assert.equal(gcp.bootScript.template, shown.gcpBootScriptTemplate);
    assert.deepEqual(
      gcp.instanceTypes.map((t) => t.instanceType),
      shown.gcpMachineTypes,
    );
  });

  it('refuses a needed output printed as [secret], naming it and saying to add --show-secrets; writes nothing', async () => {
    const hidden = { ...shown, awsBootScriptTemplate: '[secret]' };
    const out = join(dir.path, 'refused.yaml');
    const result = await cli([write('hidden.json', hidden), '-o', out]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /OUTPUTS\.json\.awsBootScriptTemplate/);
    assert.match(result.stderr, /--show-secrets/);
    assert.equal(existsSync(out), false);
  });

  it('skips secret outputs it does not need, and says which', async () => {
    const hidden = { ...shown, awsAgentRoleArn: '[secret]', gcpControllerRoles: '[secret]' };
    const out = join(dir.path, 'providers.yaml');
    const result = await cli([write('partly-hidden.json', hidden), '--output', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /wrote 2 provider\(s\)/);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /Secret outputs not needed here: awsAgentRoleArn, gcpControllerRoles\./);
    const section = parse(text) as { providers: unknown[] };
    assert.equal(parseConfig({ clusterId: 'prod-1', providers: section.providers }).providers.length, 2);
  });

  it('makes only the clouds the stack enabled', async () => {
    const awsOnly = Object.fromEntries(Object.entries(shown).filter(([key]) => !key.startsWith('gcp')));
    const result = await cli([write('aws-only.json', awsOnly)]);
    assert.equal(result.code, 0, result.stderr);
    const section = parse(result.stdout) as { providers: { kind: string }[] };
    assert.deepEqual(
      section.providers.map((p) => p.kind),
      ['aws-ec2'],
    );
  });

  const bad = [
    { name: 'a file that is not JSON', content: 'providers: []', error: /OUTPUTS\.json: .*is not JSON/ },
    { name: 'a JSON list', content: '[]', error: /OUTPUTS\.json: expected one JSON object/ },
    { name: 'outputs of another stack', content: '{"url":"x"}', error: /neither awsRegion nor gcpProject/ },
    {
      name: 'a subnet without its zone',
      content: () => JSON.stringify({ ...shown, awsSubnets: [{ id: 'subnet-1' }] }),
      error: /providers\.0\.subnets\.0\.zone/,
    },
    {
      name: 'instance types that are not a list of names',
      content: () => JSON.stringify({ ...shown, gcpMachineTypes: 'n2-standard-4' }),
      error: /OUTPUTS\.json\.gcpMachineTypes: expected a list of machine types/,
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with exit 2 and the field`, async () => {
      const result = await cli([write('bad.json', typeof c.content === 'function' ? c.content() : c.content)]);
      assert.equal(result.code, 2, result.stdout);
      assert.match(result.stderr, c.error);
      assert.equal(result.stdout, '');
    });
  }

  it('names a file it cannot read', async () => {
    const result = await cli([join(dir.path, 'missing.json')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /cannot read .*missing\.json/);
  });
});
