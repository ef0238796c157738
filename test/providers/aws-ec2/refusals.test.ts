import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'mocha';
import { captureLogs, type LogCapture } from '../../helpers/log-capture.ts';
import {
  DEFAULT_LAUNCH_TEMPLATE,
  DEFAULT_SUBNETS,
  type Ec2EmulatorOptions,
} from '../../emulators/ec2/ec2-emulator.ts';
import type { EmulatedLaunchTemplate, EmulatedSubnet } from '../../emulators/ec2/ec2-world.ts';
import { startControllerFixture, type ControllerFixture } from './controller-fixture.ts';
import { TEST_TYPES } from './fixture.ts';

const MIN = 60_000;
/** Passes every 15 s of the manual clock: 240 passes for the first hour. */
const STEP_MS = 15_000;
const PROVIDER = 'aws-ec2:us-east-1';
/** 1 minute doubling to 30: the calls of a refusal that never ends, in minutes after the first (computed by hand). */
const EXPECTED_CALL_MINUTES = [0, 1, 3, 7, 15, 31];

interface Case {
  readonly name: string;
  readonly config?: Record<string, unknown>;
  readonly emulator?: (fix: Fixes) => Ec2EmulatorOptions;
  readonly before?: (fx: ControllerFixture) => void;
  /** The reason the waiting task shows, `next try` left out. */
  readonly reason: string;
  readonly breaker: { key: string; scope: 'provider' | 'offering'; code: string };
  /** Fixes the cause in the cloud, as an operator would; absent when only a config change and restart can. */
  readonly fix?: (fx: ControllerFixture, fixes: Fixes) => void;
}

/** Lists the emulator reads live, so a test can create what was missing, as an operator would. */
interface Fixes {
  readonly subnets: EmulatedSubnet[];
  readonly templates: EmulatedLaunchTemplate[];
}

const ZONE_A = DEFAULT_SUBNETS[0]!;
const C7I = TEST_TYPES.find((t) => t.instanceType === 'c7i.large')!;

const CASES: Case[] = [
  {
    name: 'a subnet that does not exist (InvalidSubnetID.NotFound)',
    config: { subnets: [{ id: 'subnet-0bad', zone: ZONE_A.zone }], instanceTypes: [C7I] },
    reason: `${PROVIDER} refuses launches: InvalidSubnetID.NotFound (subnet-0bad)`,
    breaker: { key: PROVIDER, scope: 'provider', code: 'InvalidSubnetID.NotFound' },
    fix: (_fx, fixes) => fixes.subnets.push({ id: 'subnet-0bad', zone: ZONE_A.zone }),
  },
  {
    name: 'a launch template that does not exist (InvalidLaunchTemplateId.NotFound)',
    config: { launchTemplate: { id: 'lt-0000000000000bad0' }, subnets: [ZONE_A], instanceTypes: [C7I] },
    reason: `${PROVIDER} refuses launches: InvalidLaunchTemplateId.NotFound (lt-0000000000000bad0)`,
    breaker: { key: PROVIDER, scope: 'provider', code: 'InvalidLaunchTemplateId.NotFound' },
    fix: (_fx, fixes) => fixes.templates.push({ ...DEFAULT_LAUNCH_TEMPLATE, id: 'lt-0000000000000bad0' }),
  },
  {
    name: 'an instance type the region does not offer (InvalidParameterValue)',
    config: {
      subnets: [ZONE_A],
      instanceTypes: [{ instanceType: 'c7i.bogus', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.05 }],
    },
    reason: `${PROVIDER} refuses launches of c7i.bogus in us-east-1a (on-demand): InvalidParameterValue (c7i.bogus)`,
    breaker: { key: `${PROVIDER}/us-east-1a/c7i.bogus/on-demand`, scope: 'offering', code: 'InvalidParameterValue' },
  },
  {
    name: 'an identity that may not call RunInstances (UnauthorizedOperation)',
    config: { subnets: [ZONE_A], instanceTypes: [C7I] },
    before: (fx) => fx.emulator.deny('RunInstances'),
    reason: `${PROVIDER} refuses launches: UnauthorizedOperation (ec2:RunInstances)`,
    breaker: { key: PROVIDER, scope: 'provider', code: 'UnauthorizedOperation' },
    fix: (fx) => fx.emulator.allow('RunInstances'),
  },
  {
    name: 'credentials EC2 does not accept (AuthFailure)',
    config: { subnets: [ZONE_A], instanceTypes: [C7I] },
    emulator: () => ({ accessKeyIds: ['AKIAOTHERACCOUNT0001'] }),
    reason: `${PROVIDER} refuses launches: AuthFailure`,
    breaker: { key: PROVIDER, scope: 'provider', code: 'AuthFailure' },
  },
];

describe('refused launches back off, through the real SDK against the EC2 emulator', () => {
  let fx: ControllerFixture | undefined;
  let logs: LogCapture;

  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  for (const c of CASES) {
    it(`${c.name}: at most 7 calls in the first hour, and the task, the breakers and the log say why`, async function () {
      this.timeout(60_000);
      logs = captureLogs();
      const fixes: Fixes = { subnets: [...DEFAULT_SUBNETS], templates: [DEFAULT_LAUNCH_TEMPLATE] };
      fx = await startControllerFixture({
        emulator: { subnets: fixes.subnets, launchTemplates: fixes.templates, ...c.emulator?.(fixes) },
        config: c.config,
        logger: logs.logger,
      });
      c.before?.(fx);
      const [taskId] = fx.submit(1);
      const startMs = fx.clock.now();

      while (fx.clock.now() < startMs + 60 * MIN) {
        await fx.pass();
        fx.clock.advance(STEP_MS);
      }

      const runs = fx.emulator.calls.filter((call) => call.action === 'RunInstances');
      assert.deepEqual(
        runs.map((call) => (call.atMs - startMs) / MIN),
        EXPECTED_CALL_MINUTES,
        'RunInstances calls, in minutes after the first',
      );
      assert.ok(runs.length <= 7);
      assert.ok(runs.every((call) => call.status >= 400 && call.code === c.breaker.code));
      assert.equal(fx.emulator.liveInstances().length, 0);

      // The next try: 30 minutes after the last call at 31.
      const [breaker] = fx.controller.breakers();
      assert.equal(fx.controller.breakers().length, 1);
      assert.equal(breaker!.key, c.breaker.key);
      assert.equal(breaker!.scope, c.breaker.scope);
      assert.equal(breaker!.code, c.breaker.code);
      assert.equal(breaker!.state, 'open');
      assert.equal(breaker!.refusals, 6);
      assert.equal(breaker!.retryAtMs, startMs + 61 * MIN);
      assert.equal(breaker!.reason, `${c.reason}; next try 01:01`);
      assert.equal(fx.store.tasks.get(taskId!)!.reason, `${c.reason}; next try 01:01`);

      const lines = logs.lines();
      const messages = (m: string): Record<string, unknown>[] => lines.filter((l) => l.message === m);
      assert.equal(messages('opened launch breaker').length, 1, 'the opening is logged once');
      assert.equal(messages('launch breaker stays open').length, 5, 'each failed trial once');
      assert.equal(messages('opened launch breaker')[0]!.code, c.breaker.code);
      assert.ok(
        lines.filter((l) => l.level === 'error').length === 0,
        'no error line per pass: ' + JSON.stringify(lines.filter((l) => l.level === 'error')[0]),
      );

      if (!c.fix) return;
      c.fix(fx, fixes);
      assert.deepEqual(fx.controller.retryProvider(PROVIDER, 'test operator'), { providerId: PROVIDER, closed: 1 });
      assert.deepEqual(fx.controller.breakers(), []);
      await fx.pass();
      assert.equal(fx.emulator.liveInstances().length, 1, 'the next pass launches');
      assert.equal(fx.emulator.calls.filter((call) => call.action === 'RunInstances').length, 7);
      assert.equal(messages('closed launch breaker').length, 0);
      assert.equal(logs.lines().filter((l) => l.message === 'closed launch breaker').length, 1);
    });
  }
});
