import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import type { Clock, ManualClock } from '../../../src/core/clock.ts';
import type { LaunchIntent } from '../../../src/core/intent.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { GcpComputeProvider } from '../../../src/providers/gcp-compute/gcp-compute-provider.ts';
import { EMULATOR_ACCESS_TOKEN, GceEmulator } from '../../emulators/gce/gce-emulator.ts';
import { startControllerFixture, type ControllerFixture } from '../aws-ec2/controller-fixture.ts';
import { catalogBook, gceProviderConfig, UNTHROTTLED } from './fixture.ts';

const MIN = 60_000;
const STEP_MS = 15_000;
const GCE = 'gcp-compute:us-central1';
const ONE_SUBNET = { subnets: [{ id: 'subnet-0a000000000000001', zone: 'us-east-1a' }] };

describe('refused GCE launches back off, through the real SDK against the GCE emulator', () => {
  let fx: ControllerFixture | undefined;
  let gce: GceEmulator | undefined;
  let gceProvider: GcpComputeProvider | undefined;

  afterEach(async () => {
    await fx?.close();
    await gceProvider?.close();
    await gce?.close();
    fx = gce = gceProvider = undefined;
  });

  /** The GCE emulator and adapter beside the fixture's AWS one, on one manual clock. */
  async function start(gceConfig: Record<string, unknown>, policy: Record<string, unknown> = {}): Promise<void> {
    let clockRef: ManualClock | undefined;
    const shared: Clock = { now: () => clockRef!.now(), sleep: (ms, o) => clockRef!.sleep(ms, o) };
    gce = await GceEmulator.start({ clock: shared, rateQuotas: false });
    const book = await catalogBook();
    fx = await startControllerFixture({
      config: ONE_SUBNET,
      policy,
      others: (clock) => {
        clockRef = clock;
        gceProvider = new GcpComputeProvider({
          config: gceProviderConfig(gce!, { rateLimits: UNTHROTTLED, zones: ['us-central1-a'], ...gceConfig }),
          clock,
          logger: silentLogger(),
          accessToken: EMULATOR_ACCESS_TOKEN,
          priceBook: book,
        });
        return [gceProvider];
      },
    });
  }

  async function firstHour(): Promise<number> {
    const startMs = fx!.clock.now();
    while (fx!.clock.now() < startMs + 60 * MIN) {
      await fx!.pass();
      fx!.clock.advance(STEP_MS);
    }
    return startMs;
  }

  const cases = [
    {
      name: 'an instance template that does not exist (404): the provider breaker',
      config: { instanceTemplate: 'spillway-missing', instanceTypes: [{ instanceType: 'e2-standard-2' }] },
      key: GCE,
      reason: (project: string) =>
        `${GCE} refuses launches: NOT_FOUND (projects/${project}/global/instanceTemplates/spillway-missing)`,
    },
    {
      name: 'a machine type the zone does not offer (400): the offering breaker',
      config: {
        instanceTypes: [{ instanceType: 'e2-bogus-2', cpu: 2, memory: '8Gi', pricePerHourUsd: 0.05 }],
      },
      key: `${GCE}/us-central1-a/e2-bogus-2/on-demand`,
      reason: () => `${GCE} refuses launches of e2-bogus-2 in us-central1-a (on-demand): INVALID_ARGUMENT (e2-bogus-2)`,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: at most 7 inserts in the first hour, and the task says why`, async function () {
      this.timeout(60_000);
      await start(c.config, { providers: [GCE] });
      const [taskId] = fx!.submit(1);
      const startMs = await firstHour();
      const inserts = gce!.callsOf('insert');
      assert.deepEqual(
        inserts.map((call) => (call.atMs - startMs) / MIN),
        [0, 1, 3, 7, 15, 31],
      );
      const [breaker] = fx!.controller.breakers();
      assert.equal(fx!.controller.breakers().length, 1);
      assert.equal(breaker!.key, c.key);
      assert.equal(fx!.store.tasks.get(taskId!)!.reason, `${c.reason(gce!.project)}; next try 01:01`);
    });
  }

  it('sends the work to AWS in the next pass when GCE may not insert (IAM_PERMISSION_DENIED)', async () => {
    // e2-standard-2 at $0.0670/h is cheaper than c7i.large at $0.0893/h: GCE is tried first.
    await start({ instanceTypes: [{ instanceType: 'e2-standard-2' }] });
    gce!.deny('compute.instances.create');
    fx!.submit(1);
    await fx!.pass();
    fx!.clock.advance(STEP_MS);
    await fx!.pass();
    const launches = fx!.store.intents.launches(0) as LaunchIntent[];
    assert.deepEqual(
      launches.map((i) => [i.providerId, i.state]),
      [
        [GCE, 'failed'],
        ['aws-ec2:us-east-1', 'done'],
      ],
    );
    const [breaker] = fx!.controller.breakers();
    assert.deepEqual([breaker!.key, breaker!.scope, breaker!.code], [GCE, 'provider', 'IAM_PERMISSION_DENIED']);
    assert.equal(breaker!.subject, 'compute.instances.create');
    assert.equal(gce!.callsOf('insert').length, 1);
  });
});
