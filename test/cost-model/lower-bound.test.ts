import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { fluidLowerBound } from '../../src/cost-model/lower-bound.ts';
import { offering, policy, task } from '../fakes/builders.ts';

const small = offering({
  instanceType: 'small',
  capacity: { cpuMillis: 2000, memoryMiB: 4096 },
  pricePerHourMicros: 100_000,
});
const large = offering({
  instanceType: 'large',
  capacity: { cpuMillis: 8000, memoryMiB: 16_384 },
  pricePerHourMicros: 300_000,
});
const balanced = offering({
  instanceType: 'balanced',
  capacity: { cpuMillis: 4000, memoryMiB: 4096 },
  pricePerHourMicros: 1_000_000,
});
const spot = offering({
  instanceType: 'large',
  lifecycle: 'spot',
  capacity: { cpuMillis: 8000, memoryMiB: 16_384 },
  pricePerHourMicros: 100_000,
});
const a100 = offering({
  instanceType: 'gpu.a100',
  capacity: { cpuMillis: 8000, memoryMiB: 65_536, gpus: 1 },
  gpuModel: 'A100-40GB',
  labels: { 'gpu.model': 'A100-40GB' },
  pricePerHourMicros: 3_000_000,
});
const t4 = offering({
  instanceType: 'gpu.t4',
  capacity: { cpuMillis: 8000, memoryMiB: 65_536, gpus: 1 },
  gpuModel: 'T4-16GB',
  labels: { 'gpu.model': 'T4-16GB' },
  pricePerHourMicros: 500_000,
});
const elsewhere = offering({
  providerId: 'aws-ec2:us-east-1',
  provider: 'aws-ec2',
  region: 'us-east-1',
  instanceType: 'cheap',
  pricePerHourMicros: 1_000,
});

const near = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, expected), `${actual} != ${expected}`);

describe('fluid lower bound', () => {
  const cases = [
    {
      name: 'fractional instances of the cheapest per unit cover the demand exactly',
      tasks: () => Array.from({ length: 9 }, () => task()),
      offerings: [small, large],
      expected: 337_500,
    },
    {
      name: 'complementary shapes share an instance in every dimension',
      tasks: () => [
        ...Array.from({ length: 2 }, () => task({ resources: { cpuMillis: 2000, memoryMiB: 512 } })),
        ...Array.from({ length: 2 }, () => task({ resources: { cpuMillis: 500, memoryMiB: 2048 } })),
      ],
      offerings: [balanced],
      expected: 1_250_000,
    },
    {
      name: 'a GPU model constraint keeps a task on offerings of that model',
      tasks: () => [task({ resources: { gpus: 1 }, constraints: { gpuModels: ['A100'] } })],
      offerings: [small, a100, t4],
      expected: 3_000_000,
    },
    {
      name: 'a task without a model constraint takes the cheapest GPU',
      tasks: () => [task({ resources: { gpus: 1 } })],
      offerings: [small, a100, t4],
      expected: 500_000,
    },
    {
      name: 'only revocable tasks use spot',
      tasks: () => [
        ...Array.from({ length: 8 }, () => task({ revocable: true })),
        ...Array.from({ length: 8 }, () => task()),
      ],
      offerings: [large, spot],
      expected: 100_000 + 300_000,
    },
  ];
  for (const c of cases) {
    it(`is the LP optimum: ${c.name}`, async () => {
      const bound = await fluidLowerBound(
        c.tasks(),
        c.offerings,
        policy({ limits: { maxInstances: 1, maxVcpus: 1, maxGpus: 0 } }),
      );
      near(bound.costPerHourMicros, c.expected);
      assert.deepEqual(bound.uncoveredTaskIds, []);
    });
  }

  it('uses only the offerings the policy allows', async () => {
    const tasks = [task(), task()];
    near((await fluidLowerBound(tasks, [small, elsewhere], policy())).costPerHourMicros, 1_000);
    near((await fluidLowerBound(tasks, [small, elsewhere], policy({ regions: ['local'] }))).costPerHourMicros, 100_000);
    near(
      (
        await fluidLowerBound(tasks, [small, elsewhere], policy(), {
          unavailable: new Set(['aws-ec2:us-east-1/local-a/cheap/on-demand']),
        })
      ).costPerHourMicros,
      100_000,
    );
    near(
      (await fluidLowerBound([task({ revocable: true })], [large, spot], policy({ spot: { allowed: false } })))
        .costPerHourMicros,
      37_500,
    );
  });

  it('leaves out and reports the tasks no allowed offering can run', async () => {
    const privateOnly = task({ constraints: { privateOnly: true } });
    const huge = task({ resources: { cpuMillis: 64_000 } });
    const fine = task();
    const bound = await fluidLowerBound([privateOnly, huge, fine], [small], policy());
    assert.deepEqual([...bound.uncoveredTaskIds].sort(), [privateOnly.id, huge.id].sort());
    assert.deepEqual(bound.coveredTaskIds, [fine.id]);
    near(bound.costPerHourMicros, 50_000);
    near((await fluidLowerBound([privateOnly], [small], policy())).costPerHourMicros, 0);
  });

  it('does not change when a dominated offering or a zone twin is added', async () => {
    const tasks = [
      ...Array.from({ length: 5 }, () => task()),
      task({ resources: { cpuMillis: 500, memoryMiB: 6000 } }),
    ];
    const base = (await fluidLowerBound(tasks, [small, large], policy())).costPerHourMicros;
    const dearSmall = offering({
      instanceType: 'dear',
      capacity: { cpuMillis: 1000, memoryMiB: 2048 },
      pricePerHourMicros: 90_000,
    });
    const twin = { ...large, zone: 'local-b' };
    const withMore = await fluidLowerBound(tasks, [small, large, dearSmall, twin], policy());
    near(withMore.costPerHourMicros, base);
    assert.ok(withMore.stats.offerings <= 2);
  });

  it("reports the fractional instances and each class's marginal cost", async () => {
    const tasks = Array.from({ length: 9 }, () => task());
    const bound = await fluidLowerBound(tasks, [small, large], policy());
    assert.deepEqual(
      bound.instances.map((i) => i.offeringKey),
      ['local:test/local-a/large/on-demand'],
    );
    near(bound.instances[0]!.count, 1.125);
    near(bound.classes[0]!.marginalCostPerHourMicros, 37_500);
    assert.equal(bound.classes[0]!.taskIds.length, 9);
  });

  it('is zero for no tasks', async () => {
    assert.equal((await fluidLowerBound([], [small], policy())).costPerHourMicros, 0);
  });
});
