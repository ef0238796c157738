import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { parseConfig } from '../../../src/config/load.ts';
import { ValidationError } from '../../../src/core/errors.ts';

const provider = {
  kind: 'aws-ec2',
  region: 'us-east-1',
  launchTemplate: { name: 'spillway-agents' },
  subnets: [{ id: 'subnet-0aaa', zone: 'us-east-1a' }],
  instanceTypes: [{ instanceType: 'c7i.large', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.08925 }],
};

describe('aws-ec2 provider config', () => {
  it('fills production defaults: the default chain, the built-in boot script, prices refreshed every ten minutes', () => {
    const config = parseConfig({ clusterId: 'lab', providers: [provider] });
    const p = config.providers[0]!;
    assert.equal(p.kind, 'aws-ec2');
    if (p.kind !== 'aws-ec2') return;
    assert.equal(p.endpoint, undefined);
    assert.deepEqual(p.launchTemplate, { name: 'spillway-agents', version: '$Default' });
    assert.deepEqual(p.bootScript, { agentCommand: ['spillway', 'agent'], caFile: '/etc/spillway/ca.pem' });
    assert.equal(p.priceRefreshMs, 600_000);
    assert.equal(p.instanceTypes[0]!.memory, 4096);
  });

  it('names the key of a bad value', () => {
    const cases = [
      { name: 'region', patch: { region: 'Virginia' }, field: /providers\.0\.region/ },
      { name: 'template', patch: { launchTemplate: { id: 'lt-1', name: 'x' } }, field: /providers\.0\.launchTemplate/ },
      { name: 'no subnet', patch: { subnets: [] }, field: /providers\.0\.subnets/ },
      { name: 'endpoint', patch: { endpoint: 'not a url' }, field: /providers\.0\.endpoint/ },
      { name: 'unknown key', patch: { accessKeyId: 'AKIA...' }, field: /accessKeyId/ },
    ];
    for (const c of cases) {
      assert.throws(
        () => parseConfig({ clusterId: 'lab', providers: [{ ...provider, ...c.patch }] }),
        (err: unknown) => err instanceof ValidationError && c.field.test(err.message),
        c.name,
      );
    }
  });
});
