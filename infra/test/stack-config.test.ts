import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { afterEach, describe, it } from 'mocha';
import { ValidationError } from '../../src/core/errors.ts';
import { readStackSettings } from '../src/stack-config.ts';
import { settingsInput, valueOf } from './pulumi-mocks.ts';

/** Sets the stack config as `pulumi config set` stores it: strings, objects and lists as JSON. */
function setStackConfig(values: Record<string, unknown>): void {
  const all: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) all[`spillway:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  pulumi.runtime.setAllConfig(all);
}

describe('infra: stack config and the program entry', () => {
  afterEach(() => pulumi.runtime.setAllConfig({}));

  it('reads the spillway namespace, parsing JSON values and keeping plain strings', () => {
    setStackConfig(settingsInput());
    const settings = readStackSettings();
    assert.equal(settings.clusterId, 'prod-1');
    assert.equal(settings.controllerUrl, 'https://10.0.0.5:7443');
    assert.deepEqual(settings.privateCidrs, ['10.0.0.0/16', '192.168.10.0/24']);
    assert.equal(settings.aws?.volumeSizeGiB, 50, 'defaults apply');
    assert.equal(settings.installDir, '/opt/spillway');
  });

  it('names the key that is missing or wrong', () => {
    setStackConfig({ ...settingsInput(), node: undefined });
    assert.throws(
      () => readStackSettings(),
      (err: unknown) => err instanceof ValidationError && err.field === 'node',
    );
    setStackConfig({ ...settingsInput(), aws: { ...(settingsInput().aws as object), imageId: 'debian' } });
    assert.throws(
      () => readStackSettings(),
      (err: unknown) => err instanceof ValidationError && err.field === 'aws.imageId',
    );
    setStackConfig({ ...settingsInput(), aws: undefined, gcp: undefined });
    assert.throws(() => readStackSettings(), /enable at least one cloud/);
  });

  it('index.ts, the program Pulumi runs, exports the outputs from the stack config', async () => {
    setStackConfig(settingsInput({ gcp: undefined }));
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => ({
          id: `${args.name}-id`,
          state: { ...args.inputs, arn: `arn:aws:ec2:us-east-1:123456789012:x/${args.name}` },
        }),
        call: () => ({}),
      },
      'spillway',
      'entry',
      false,
    );
    const program = (await import('../index.ts')) as Record<string, pulumi.Input<unknown> | undefined>;
    assert.equal(await valueOf(program.clusterId), 'prod-1');
    assert.equal(await valueOf(program.awsRegion), 'us-east-1');
    assert.equal(await valueOf(program.awsLaunchTemplateId), 'spillway-prod-1-agents-id');
    assert.equal(program.gcpProject, undefined);
    await pulumi.runtime.disconnect();
  });
});
