import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { ValidationError } from '../../src/core/errors.ts';

const AWS = {
  kind: 'aws-ec2',
  region: 'us-east-1',
  launchTemplate: { id: 'lt-0123456789abcdef0' },
  subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }],
  instanceTypes: [{ instanceType: 'c7i.large', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.0893 }],
};
const GCE = {
  kind: 'gcp-compute',
  project: 'my-project-123',
  region: 'us-central1',
  zones: ['us-central1-a'],
  instanceTemplate: 'spillway-agents',
  instanceTypes: [{ instanceType: 'e2-standard-2', cpu: 2, memory: '8Gi', pricePerHourUsd: 0.067 }],
};
const LOCAL = {
  kind: 'local',
  name: 'demo',
  offerings: [{ instanceType: 'local.small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.08 }],
};

function refusal(input: unknown): ValidationError {
  try {
    parseConfig(input);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err;
  }
  assert.fail('expected the config to be refused');
}

describe('config: a cloud provider needs a controller URL that stays the same across restarts', () => {
  for (const provider of [AWS, GCE]) {
    it(`refuses api.port 0 without api.publicUrl with ${provider.kind}, naming both keys`, () => {
      const err = refusal({ clusterId: 'c', api: { port: 0 }, providers: [provider] });
      assert.equal(err.field, 'api.port');
      assert.match(err.message, /api\.port 0/);
      assert.match(err.message, /api\.publicUrl/);
    });
  }

  it('accepts api.port 0 with api.publicUrl, a fixed port with a cloud provider, and port 0 for the local cloud', () => {
    const withUrl = parseConfig({
      clusterId: 'c',
      api: { port: 0, publicUrl: 'https://spillway.example.internal:7443' },
      providers: [AWS],
    });
    assert.equal(withUrl.api.publicUrl, 'https://spillway.example.internal:7443');
    assert.equal(parseConfig({ clusterId: 'c', api: { port: 7071 }, providers: [GCE] }).api.port, 7071);
    assert.equal(parseConfig({ clusterId: 'c', api: { port: 0 }, providers: [LOCAL] }).api.port, 0);
  });

  it('refuses it when the start reads spillway.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spillway-port-'));
    try {
      const file = join(dir, 'spillway.yaml');
      writeFileSync(file, `clusterId: c\napi: { port: 0 }\nproviders:\n  - ${JSON.stringify(AWS)}\n`);
      assert.throws(
        () => loadConfig(file),
        (err: unknown) => err instanceof ValidationError && err.field === 'api.port',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
