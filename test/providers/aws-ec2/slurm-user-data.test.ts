import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { silentLogger } from '../../../src/log/logger.ts';
import { slurmBootRenderer } from '../../../src/pool/slurm/slurm-setup.ts';
import { AwsEc2Provider } from '../../../src/providers/aws-ec2/aws-ec2-provider.ts';
import { EC2_INSTANCE_ID_SCRIPT } from '../../../src/providers/aws-ec2/user-data.ts';
import { EMULATOR_CREDENTIALS } from '../../emulators/ec2/ec2-emulator.ts';
import {
  assertJoined,
  assertSlurmLaunch,
  expectedSlurmScript,
  runUntilJoin,
  SLURM_BOOT as BOOT,
  slurmBootFixture,
  type SlurmBootFixture,
} from '../slurm-boot-fixture.ts';
import { launchRequest, providerConfig, startFixture, type Fixture } from './fixture.ts';

describe('aws-ec2 provider in Slurm mode: user data is the Slurm node join script', () => {
  let fx: Fixture | undefined;
  let slurm: SlurmBootFixture | undefined;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
    slurm?.close();
    slurm = undefined;
  });

  async function start(): Promise<{ fx: Fixture; slurm: SlurmBootFixture }> {
    slurm = slurmBootFixture([{ provider: 'aws-ec2', instanceType: 'c7i.large', placeholder: 'tmpl-c7i' }]);
    fx = await startFixture({
      config: { bootScript: BOOT },
      provider: { renderBootScript: slurmBootRenderer(slurm.config) },
    });
    return { fx, slurm };
  }

  const userDataOf = (f: Fixture, instanceId: string): string =>
    Buffer.from(f.emulator.instance(instanceId)!.userData, 'base64').toString('utf8');

  it('launches with the Slurm script for the intent, after the IMDSv2 instance id lines', async () => {
    const { fx: f, slurm: s } = await start();
    const request = await launchRequest(f.provider, {}, { count: 2 });
    const instances = await f.provider.launch(request);
    assertSlurmLaunch(s, request, instances, (id) => userDataOf(f, id), EC2_INSTANCE_ID_SCRIPT);
  });

  it('sends identical user data on a retry after a lost answer, and from a restarted controller', async () => {
    const { fx: f, slurm: s } = await start();
    const request = await launchRequest(f.provider);
    f.emulator.injectFault({ kind: 'lose-response', action: 'RunInstances' });
    await assert.rejects(f.provider.launch(request));
    const [first] = f.emulator.instances();
    assert.ok(first, 'the lost call took effect');
    // EC2 compares a retried ClientToken's parameters: other user data would be IdempotentParameterMismatch.
    const [again] = await f.provider.launch(request);
    assert.equal(again!.id, first.id);
    const restarted = new AwsEc2Provider({
      config: providerConfig(f.emulator, { bootScript: BOOT }),
      clock: f.clock,
      logger: silentLogger(),
      credentials: EMULATOR_CREDENTIALS,
      renderBootScript: slurmBootRenderer(s.config),
    });
    try {
      const [fromRestart] = await restarted.launch(request);
      assert.equal(fromRestart!.id, first.id);
    } finally {
      restarted.close();
    }
    assert.equal(f.emulator.instances().length, 1);
    assert.deepEqual(
      f.emulator.calls.filter((c) => c.action === 'RunInstances').map((c) => [c.status, c.code]),
      [
        [0, undefined],
        [200, undefined],
        [200, undefined],
      ],
    );
    assert.equal(userDataOf(f, first.id), expectedSlurmScript(s, request, BOOT, EC2_INSTANCE_ID_SCRIPT));
  });

  it('a changed Slurm script under the same intent is refused by EC2, so the comparison above is real', async () => {
    const { fx: f, slurm: s } = await start();
    const request = await launchRequest(f.provider);
    await f.provider.launch(request);
    const other = new AwsEc2Provider({
      config: providerConfig(f.emulator, { bootScript: BOOT }),
      clock: f.clock,
      logger: silentLogger(),
      credentials: EMULATOR_CREDENTIALS,
      renderBootScript: slurmBootRenderer({ ...s.config, confServer: '10.0.0.2:6817' }),
    });
    try {
      await assert.rejects(other.launch(request), /IdempotentParameterMismatch/);
    } finally {
      other.close();
    }
  });

  it('on the instance, the join step gets the instance id from IMDSv2 and the credential in its environment', async () => {
    const { fx: f, slurm: s } = await start();
    const request = await launchRequest(f.provider);
    const [instance] = await f.provider.launch(request);
    const joined = await runUntilJoin(s, userDataOf(f, instance!.id), f.emulator.metadataUrl(instance!.id));
    assertJoined(s, joined, request, { instanceId: instance!.id, memoryMiB: 4096 });
  });
});
