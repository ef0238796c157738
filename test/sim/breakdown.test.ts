import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { localProviderSchema } from '../../src/config/schema.ts';
import { PRODUCTION_POLICY, type Policy } from '../../src/core/policy.ts';
import type { AgentInterval, UsageInterval } from '../../src/cost-model/ledger.ts';
import { localOfferings } from '../../src/providers/local/offerings.ts';
import { cloudCostParts, overBound, waitBreakdown, waitCause, WaitCause } from '../../src/sim/breakdown.ts';
import { runFigures } from '../../src/sim/figures.ts';
import { DEFAULT_PRIVATE_RATES } from '../../src/cost-model/private-rates.ts';
import { Simulation, type PrivateMachine } from '../../src/sim/simulation.ts';
import type { TraceTask } from '../../src/sim/trace.ts';
import { job, stream } from './helpers.ts';

const START_MS = Date.UTC(2026, 0, 1);
const BOOT_MS = 30_000;
const CONFIG = localProviderSchema.parse({
  kind: 'local',
  name: 'sim',
  zones: ['z-a'],
  bootDelayMs: BOOT_MS,
  offerings: [
    { instanceType: 'small', cpu: 2, memory: '4Gi', pricePerHourUsd: 0.36 },
    { instanceType: 'large', cpu: 4, memory: '8Gi', pricePerHourUsd: 0.9 },
  ],
});
const OFFERINGS = localOfferings(CONFIG, 'local:sim').filter((o) => o.lifecycle === 'on-demand');
const POLICY: Policy = { ...PRODUCTION_POLICY, pendingGraceMs: 10_000, idleTtlMs: 60_000 };
/** small's price per second: $0.36/h. */
const SMALL_USD_PER_S = 0.36 / 3600;

async function simulate(tasks: readonly TraceTask[], policy: Policy, privateMachines: readonly PrivateMachine[] = []) {
  const run = await new Simulation({
    trace: stream(tasks),
    startMs: START_MS,
    privateMachines,
    clouds: [{ providerId: 'local:sim', kind: 'local', offerings: OFFERINGS }],
    policy,
  }).run();
  try {
    return runFigures(run, policy, DEFAULT_PRIVATE_RATES);
  } finally {
    run.store.close();
  }
}

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual}, expected ${expected}`);

describe('simulation breakdown', function () {
  this.timeout(30_000);

  it('splits a lone cloud instance into boot, work, packing loss and idle before release', async () => {
    // A 1-CPU task at 0 s for 1,000 s. Due at 10 s (grace): one small (2 CPU, 4 GiB) is launched and billed from 10 s,
    // registers at 40 s and runs the task to 1,040 s; idle for idleTtlMs, it is released at 1,100 s.
    const figures = await simulate([job('a', 0, 1, 1000)], POLICY);
    const c = figures.cloudParts;
    close(c.billedUsd, 1090 * SMALL_USD_PER_S, 'billed');
    close(c.bootUsd, 30 * SMALL_USD_PER_S, 'boot');
    close(c.workUsd, 1000 * 0.5 * SMALL_USD_PER_S, 'work: half the CPUs (the busiest resource: memory is 1/4)');
    close(c.packingLossUsd, 1000 * 0.5 * SMALL_USD_PER_S, 'packing loss: the other half');
    close(c.idleBeforeReleaseUsd, 60 * SMALL_USD_PER_S, 'idle before release');
    close(c.idleBetweenTasksUsd, 0, 'idle between tasks');
    close(c.minimumsUsd, 0, 'no minimum: it ran over 60 s');
    assert.deepEqual([figures.waits.p99S, figures.waits.maxS], [40, 40], 'grace, then boot');
    assert.equal(figures.waits.pastGraceByCause.launch, 1);
    assert.equal(figures.waits.pastGrace, 1);
  });

  it('counts idle gaps between tasks apart from the idle tail', async () => {
    // a (2 CPU) runs 40..140 s on a small launched at 10 s; b (2 CPU) arrives at 150 s and starts at once on it.
    const figures = await simulate([job('a', 0, 2, 100), job('b', 150, 2, 100)], POLICY);
    const c = figures.cloudParts;
    // Billed 10..310 s (b ends at 250, idle 60 s): 300 s. Registered at 40; busy 40..140 and 150..250, full.
    close(c.billedUsd, 300 * SMALL_USD_PER_S, 'billed');
    close(c.idleBetweenTasksUsd, 10 * SMALL_USD_PER_S, 'idle between tasks');
    close(c.idleBeforeReleaseUsd, 60 * SMALL_USD_PER_S, 'idle before release');
    close(c.workUsd, 200 * SMALL_USD_PER_S, 'work: both tasks fill the small');
    close(c.packingLossUsd, 0, 'no packing loss');
    assert.deepEqual([figures.waits.p50S, figures.waits.maxS], [0, 40], 'b found the small idle');
  });

  it('counts late tasks by the reason stored on them: limit, launch, no-fit and private-only', async () => {
    // One instance at most. a and b (2 CPU each) are due at 10 s: a small is launched for a; b waits at the limit
    // and takes a's small when a ends (40 + 100 = 140 s).
    const limited = await simulate([job('a', 0, 2, 100), job('b', 0, 2, 100)], {
      ...POLICY,
      limits: { ...POLICY.limits, maxInstances: 1 },
    });
    assert.deepEqual(limited.waits.pastGraceByCause, { ...none(), launch: 1, limit: 1 });
    assert.deepEqual([limited.waits.p50S, limited.waits.p99S, limited.waits.maxS], [40, 140, 140]);

    // A private machine of 8 CPUs: e holds it for 100 s; f (8 CPU, larger than any offering) waits for it until
    // 100 s, g (private-only) until f ends at 150 s.
    const privateMachine: PrivateMachine = {
      name: 'p',
      capacity: { cpuMillis: 8000, memoryMiB: 8192, gpus: 0, netMbps: 0 },
      labels: {},
    };
    const onPrivate = await simulate(
      [job('e', 0, 8, 100), job('f', 0, 8, 50), { ...job('g', 0, 8, 10), constraints: { privateOnly: true } }],
      POLICY,
      [privateMachine],
    );
    assert.deepEqual(onPrivate.waits.pastGraceByCause, { ...none(), 'no-fit': 1, 'private-only': 1 });
    assert.deepEqual([onPrivate.waits.p50S, onPrivate.waits.maxS], [100, 150]);
    assert.equal(onPrivate.cloudParts.billedUsd, 0);
  });
});

function none(): Record<WaitCause, number> {
  return Object.fromEntries(Object.values(WaitCause).map((c) => [c, 0])) as Record<WaitCause, number>;
}

describe('breakdown (pure)', () => {
  const agent = (over: Partial<AgentInterval>): AgentInterval => ({
    agentId: 'a1',
    name: 'a1',
    location: { kind: 'cloud', provider: 'aws-ec2', region: 'r', zone: 'z' } as AgentInterval['location'],
    provider: 'aws-ec2',
    providerId: 'aws-ec2:r',
    instanceId: 'i-1',
    instanceType: 't',
    lifecycle: 'on-demand',
    pricePerHourMicros: 3_600_000, // $3.60/h: $0.001/s
    capacity: { cpuMillis: 4000, memoryMiB: 4096, gpus: 0, netMbps: 0 },
    intentId: null,
    owners: [],
    startMs: 0,
    endMs: 100_000,
    ...over,
  });
  const use = (id: number, taskId: string, agentId: string, startMs: number, endMs: number): UsageInterval => ({
    id,
    taskId,
    agentId,
    owner: { team: 't', project: 'p', job: taskId },
    share: 0,
    startMs,
    endMs,
  });
  const resources = new Map([
    ['cpu1', { cpuMillis: 1000, memoryMiB: 512, gpus: 0, netMbps: 0 }],
    ['mem3', { cpuMillis: 1000, memoryMiB: 3072, gpus: 0, netMbps: 0 }],
  ]);

  it('sums the parts to the bill, and overBound keeps the sum', () => {
    // $0.001/s. a1: 0..100 s, registered at 20 s; cpu1 20..60 (1/4 used), cpu1 + mem3 40..50 (mem 3.5/4 -> 7/8),
    // nothing 60..70, mem3 70..80 (3/4); idle 80..100. a2 never registered: 0..30 s, billed the 60 s minimum.
    const parts = cloudCostParts({
      agents: [
        agent({}),
        agent({ agentId: 'a2', instanceId: 'i-2', endMs: 30_000 }),
        agent({ agentId: 'p', lifecycle: 'private', provider: 'private' }),
      ],
      usage: [
        use(1, 'cpu1', 'a1', 20_000, 60_000),
        use(2, 'mem3', 'a1', 40_000, 50_000),
        use(3, 'mem3', 'a1', 70_000, 80_000),
      ],
      billedUsd: (a) => (a.agentId === 'a2' ? 0.06 : a.agentId === 'a1' ? 0.1 : 99),
      registeredAtMs: new Map([['a1', 20_000]]),
      resourcesOf: (id) => resources.get(id),
      endMs: 100_000,
    });
    close(parts.billedUsd, 0.16, 'billed: the private agent is not cloud');
    close(parts.bootUsd, 0.02 + 0.03, 'boot: 20 s of a1, all 30 s of a2');
    close(parts.minimumsUsd, 0.03, "a2's minimum over its 30 s");
    close(parts.idleBetweenTasksUsd, 0.01, '60..70');
    close(parts.idleBeforeReleaseUsd, 0.02, '80..100');
    const usedS = 20 * 0.25 + 10 * (7 / 8) + 10 * 0.25 + 10 * 0.75;
    close(parts.workUsd, usedS * 0.001, 'work');
    close(parts.packingLossUsd, (50 - usedS) * 0.001, 'packing loss over 50 busy seconds');
    const sum =
      parts.bootUsd +
      parts.idleBetweenTasksUsd +
      parts.idleBeforeReleaseUsd +
      parts.minimumsUsd +
      parts.packingLossUsd +
      parts.workUsd;
    close(sum, parts.billedUsd, 'parts sum to the bill');
    const over = overBound(parts, 0.02);
    close(over.overUsd, 0.14, 'over');
    close(over.ratio, 8, 'ratio');
    close(over.priceGapUsd, usedS * 0.001 - 0.02, 'price gap');
    close(
      over.bootUsd +
        over.idleBetweenTasksUsd +
        over.idleBeforeReleaseUsd +
        over.minimumsUsd +
        over.packingLossUsd +
        over.priceGapUsd,
      over.overUsd,
      'causes sum to the cost over the bound',
    );
  });

  it('takes nearest-rank percentiles and classes every stored reason', () => {
    const cases: { name: string; reason: string; cause: WaitCause }[] = [
      { name: 'limit', reason: 'burst limit reached (maxInstances 1)', cause: 'limit' },
      { name: 'no fit', reason: 'no allowed offering fits 8 CPU', cause: 'no-fit' },
      { name: 'budget', reason: 'budget team-a would exceed its cap', cause: 'budget' },
      { name: 'launch', reason: 'waits for m7i.large being launched', cause: 'launch' },
      { name: 'none', reason: '', cause: 'covered' },
      { name: 'private', reason: 'waits for private room (private-only task)', cause: 'private-only' },
      { name: 'paused', reason: 'bursting is paused', cause: 'paused' },
      { name: 'unknown', reason: 'something new', cause: 'other' },
    ];
    for (const c of cases) assert.equal(waitCause(c.reason), c.cause, c.name);
    const waits = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000); // 1..100 s
    const reasons = waits.map((_, i) => (i % 2 === 0 ? '' : 'burst limit reached (x)'));
    const b = waitBreakdown(waits, reasons, 90_000);
    assert.deepEqual([b.p50S, b.p95S, b.p99S, b.maxS, b.meanS], [50, 95, 99, 100, 50.5]);
    // 91..100 s are late: indexes 90..99, odd ones (5) carry the limit.
    assert.equal(b.pastGrace, 10);
    assert.deepEqual(b.pastGraceByCause, { ...none(), covered: 5, limit: 5 });
  });
});
