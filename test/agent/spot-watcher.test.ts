import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'mocha';
import { startAgent, type AgentHandle } from '../../src/agent/agent.ts';
import { watchSpotInterruption, type SpotNotice } from '../../src/agent/spot-watcher.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { Ec2Emulator, EMULATOR_CREDENTIALS } from '../emulators/ec2/ec2-emulator.ts';
import { waitFor } from '../helpers/wait.ts';
import { providerConfig } from '../providers/aws-ec2/fixture.ts';
import { AwsEc2Provider } from '../../src/providers/aws-ec2/aws-ec2-provider.ts';
import { systemClock } from '../../src/core/clock.ts';
import { FakeController } from './fixtures/fake-controller.ts';

describe('agent: spot interruption watch (IMDSv2)', function () {
  this.timeout(20_000);
  let emulator: Ec2Emulator;
  let spotId: string;
  let onDemandId: string;

  beforeEach(async () => {
    emulator = await Ec2Emulator.start({ bootMs: 0 });
    const aws = new AwsEc2Provider({
      config: providerConfig(emulator),
      clock: systemClock,
      logger: silentLogger(),
      credentials: EMULATOR_CREDENTIALS,
    });
    try {
      const offerings = await aws.offerings();
      const pick = (lifecycle: string) => offerings.find((o) => o.lifecycle === lifecycle && o.zone === 'us-east-1a')!;
      const launch = async (lifecycle: string, intentId: string) =>
        (
          await aws.launch({
            intentId,
            clusterId: 'test-cluster',
            offering: pick(lifecycle),
            count: 1,
            owner: { team: 't', project: 'p', job: 'j' },
            bootstrap: { controllerUrl: 'http://127.0.0.1:1', caBundle: '', credential: 'swb_x' },
          })
        )[0]!.id;
      spotId = await launch('spot', '11111111-1111-4111-8111-111111111111');
      onDemandId = await launch('on-demand', '22222222-2222-4222-8222-222222222222');
    } finally {
      aws.close();
    }
    await waitFor('instances to run', () => emulator.instance(spotId)?.state === 'running');
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('asks for a session token first and reports the notice once the instance-action appears', async () => {
    const abort = new AbortController();
    const notices: SpotNotice[] = [];
    const watching = watchSpotInterruption({
      metadataUrl: emulator.metadataUrl(spotId),
      onNotice: (n) => notices.push(n),
      logger: silentLogger(),
      signal: abort.signal,
      pollIntervalMs: 50,
    });
    await waitFor('a few polls', () => emulator.metadata.requests.filter((r) => r.status === 404).length >= 2);
    assert.equal(notices.length, 0);
    emulator.interrupt(spotId);
    await watching;
    assert.equal(notices.length, 1);
    assert.equal(notices[0]!.action, 'terminate');
    assert.ok(Math.abs(notices[0]!.timeMs - (Date.now() + 120_000)) < 5_000, 'two minutes ahead');
    const first = emulator.metadata.requests[0]!;
    assert.deepEqual([first.method, first.path, first.status], ['PUT', '/latest/api/token', 200]);
    assert.ok(
      emulator.metadata.requests.every((r) => r.status !== 401),
      'every read carried the token',
    );
    abort.abort();
  });

  it('the metadata service refuses reads without an IMDSv2 token', async () => {
    const res = await fetch(`${emulator.metadataUrl(spotId)}/latest/meta-data/instance-id`);
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });

  describe('in the agent', () => {
    let controller: FakeController;
    let agent: AgentHandle | undefined;

    beforeEach(async () => {
      controller = await FakeController.start();
    });

    afterEach(async () => {
      await agent?.stop('test over');
      agent = undefined;
      await controller.close();
    });

    function start(instanceId: string, lifecycle: string): AgentHandle {
      return startAgent({
        url: controller.url,
        token: controller.registrationToken,
        capacity: { cpuMillis: 2000, memoryMiB: 4096, gpus: 0, netMbps: 1000 },
        labels: { 'spillway.io/lifecycle': lifecycle },
        instanceId,
        logger: silentLogger(),
        metadataUrl: emulator.metadataUrl(instanceId),
        spotPollIntervalMs: 50,
      });
    }

    it('tells the controller at once with a heartbeat carrying the interruption notice', async () => {
      controller.heartbeatIntervalMs = 60_000; // only a notice can bring the second heartbeat this soon
      agent = start(spotId, 'spot');
      await waitFor('the first heartbeat', () => controller.heartbeats.length >= 1);
      await waitFor('the watch to poll', () => emulator.metadata.requests.some((r) => r.instanceId === spotId));
      emulator.interrupt(spotId);
      await waitFor('a heartbeat with the notice', () =>
        controller.heartbeats.some((h) => h.notice === 'interruption'),
      );
      assert.equal(controller.heartbeats.filter((h) => h.notice === 'interruption').length, 1, 'sent once');
    });

    it('does not watch on an on-demand instance', async () => {
      agent = start(onDemandId, 'on-demand');
      await waitFor('the first heartbeat', () => controller.heartbeats.length >= 1);
      assert.deepEqual(emulator.metadata.requests, []);
    });
  });
});
