import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { plan, type PlanInput } from '../../src/autoscaler/planner.ts';
import { offeringKey } from '../../src/core/offering.ts';
import { cloudAgent, launchIntent, offering, policy, T0, task } from '../fakes/builders.ts';

const small = offering({ instanceType: 'local.small', pricePerHourMicros: 100_000 });
const large = offering({ instanceType: 'local.large', capacity: { cpuMillis: 8000, memoryMiB: 16384 }, pricePerHourMicros: 300_000 });
const spot = offering({ instanceType: 'local.small', lifecycle: 'spot', pricePerHourMicros: 30_000 });
const gpu = offering({
  instanceType: 'gpu.a100',
  capacity: { cpuMillis: 8000, memoryMiB: 65536, gpus: 1 },
  gpuModel: 'A100',
  labels: { 'gpu.model': 'A100' },
  pricePerHourMicros: 3_000_000,
});

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    nowMs: T0 + 10_000,
    policy: policy(),
    pending: [],
    agents: [],
    openLaunches: [],
    offerings: [small, large],
    unavailable: new Set(),
    ...overrides,
  };
}

describe('planner', () => {
  it('launches nothing for tasks still inside the grace period', () => {
    const result = plan(input({ nowMs: T0 + 4_999, pending: [task(), task()] }));
    assert.deepEqual(result.launches, []);
  });

  it('packs tasks into the offering with the lowest price per packed task', () => {
    // 8 one-CPU tasks: large packs 8 for 0.30 (0.0375 each); small packs 2 for 0.10 (0.05 each).
    const pending = Array.from({ length: 8 }, () => task());
    const result = plan(input({ pending }));
    assert.equal(result.launches.length, 1);
    assert.equal(result.launches[0]!.offering.instanceType, 'local.large');
    assert.equal(result.launches[0]!.count, 1);
    assert.equal(result.launches[0]!.taskIds.length, 8);
    assert.match(result.launches[0]!.reason, /8 task\(s\) waited/);
  });

  it('prefers the cheaper small instance when few tasks wait', () => {
    const result = plan(input({ pending: [task()] }));
    assert.equal(result.launches[0]!.offering.instanceType, 'local.small');
  });

  it('subtracts what in-flight launches and unregistered instances will bring', () => {
    const pending = [task(), task(), task(), task()];
    const provisioning = cloudAgent({ state: 'provisioning', capacity: { cpuMillis: 2000, memoryMiB: 4096 } });
    const inFlight = launchIntent(small);
    const result = plan(input({ pending, agents: [provisioning], openLaunches: [inFlight] }));
    assert.deepEqual(result.launches, []);
  });

  it('counts an intent once when reconcile already adopted its instance as an agent', () => {
    const intent = launchIntent(small, { count: 1 });
    const adopted = cloudAgent({ state: 'provisioning', intentId: intent.id });
    const pending = [task(), task(), task()];
    const result = plan(input({ pending, agents: [adopted], openLaunches: [intent] }));
    assert.equal(result.launches.reduce((n, l) => n + l.count, 0), 1);
  });

  it('uses spot only for revocable tasks and only where the policy allows it', () => {
    const offerings = [small, spot];
    const revocable = plan(input({ offerings, pending: [task({ revocable: true })] }));
    assert.equal(revocable.launches[0]!.offering.lifecycle, 'spot');
    const steady = plan(input({ offerings, pending: [task()] }));
    assert.equal(steady.launches[0]!.offering.lifecycle, 'on-demand');
    const noSpot = plan(input({ offerings, pending: [task({ revocable: true })], policy: policy({ spot: { allowed: false } }) }));
    assert.equal(noSpot.launches[0]!.offering.lifecycle, 'on-demand');
  });

  it('never bursts a private-only task, and says why it waits', () => {
    const t = task({ constraints: { privateOnly: true } });
    const result = plan(input({ pending: [t] }));
    assert.deepEqual(result.launches, []);
    assert.match(result.waiting.find((w) => w.taskId === t.id)!.reason, /private-only/);
  });

  it('launches the GPU model a task asks for', () => {
    const t = task({ resources: { gpus: 1 }, constraints: { gpuModels: ['a100'] } });
    const result = plan(input({ offerings: [small, large, gpu], pending: [t], policy: policy({ limits: { maxInstances: 8, maxVcpus: 64, maxGpus: 4 } }) }));
    assert.equal(result.launches[0]!.offering.instanceType, 'gpu.a100');
  });

  it('skips offerings marked unavailable and fails over to the next cheapest', () => {
    const result = plan(input({ pending: [task()], unavailable: new Set([offeringKey(small)]) }));
    assert.equal(result.launches[0]!.offering.instanceType, 'local.large');
  });

  it('keeps within maxInstances, counting running cloud agents and reporting the limit', () => {
    const running = [cloudAgent(), cloudAgent()];
    const pending = Array.from({ length: 6 }, () => task({ resources: { cpuMillis: 2000 } }));
    const result = plan(input({ offerings: [small], pending, agents: running, policy: policy({ limits: { maxInstances: 3, maxVcpus: 100, maxGpus: 0 } }) }));
    assert.equal(result.launches.reduce((n, l) => n + l.count, 0), 1);
    assert.ok(result.waiting.some((w) => /maxInstances=3/.test(w.reason)));
  });

  it('launches nothing while paused', () => {
    const result = plan(input({ pending: [task()], policy: policy({ paused: true }) }));
    assert.deepEqual(result.launches, []);
    assert.match(result.waiting[0]!.reason, /paused/);
  });

  it('honours allowed providers, regions and instance families', () => {
    const other = offering({ providerId: 'aws-ec2:us-east-1', provider: 'aws-ec2', region: 'us-east-1', instanceType: 'm7i.large', pricePerHourMicros: 50_000 });
    const pending = [task()];
    assert.equal(plan(input({ offerings: [small, other], pending })).launches[0]!.offering.instanceType, 'm7i.large');
    assert.equal(plan(input({ offerings: [small, other], pending, policy: policy({ providers: ['local'] }) })).launches[0]!.offering.instanceType, 'local.small');
    assert.equal(plan(input({ offerings: [small, other], pending, policy: policy({ regions: ['local'] }) })).launches[0]!.offering.instanceType, 'local.small');
    assert.equal(plan(input({ offerings: [small, other], pending, policy: policy({ instanceFamilies: ['local.'] }) })).launches[0]!.offering.instanceType, 'local.small');
  });

  it('splits owner shares by the capacity their tasks take', () => {
    const a = task({ owner: { team: 'a', project: 'p', job: 'j' }, resources: { cpuMillis: 1500 } });
    const b = task({ owner: { team: 'b', project: 'p', job: 'j' }, resources: { cpuMillis: 500 } });
    const [launch] = plan(input({ offerings: [small], pending: [a, b] })).launches;
    assert.deepEqual(launch!.owners.map((o) => [o.owner.team, o.share]), [['a', 0.75], ['b', 0.25]]);
  });

  it('gives the same plan for the same input', () => {
    const pending = Array.from({ length: 30 }, (_, i) => task({ resources: { cpuMillis: 250 * (1 + (i % 5)), memoryMiB: 512 * (1 + (i % 3)) } }));
    const a = plan(input({ pending }));
    const b = plan(input({ pending }));
    assert.deepEqual(a, b);
  });

  it('reports a task no allowed offering fits', () => {
    const huge = task({ resources: { cpuMillis: 64_000 } });
    const result = plan(input({ pending: [huge] }));
    assert.deepEqual(result.launches, []);
    assert.match(result.waiting[0]!.reason, /no allowed offering fits/);
  });
});
