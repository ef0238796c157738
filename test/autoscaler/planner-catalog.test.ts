import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { plan, type PlanInput } from '../../src/autoscaler/planner.ts';
import { gpuModelMatches } from '../../src/core/gpu-model.ts';
import type { Offering } from '../../src/core/offering.ts';
import { PRODUCTION_POLICY, type Policy } from '../../src/core/policy.ts';
import type { Resources } from '../../src/core/resources.ts';
import { loadCatalog, type CatalogEntry } from '../../src/cost-model/catalog.ts';
import { fluidLowerBound } from '../../src/cost-model/lower-bound.ts';
import { PriceBook } from '../../src/cost-model/price-book.ts';
import { T0, task } from '../fakes/builders.ts';

/** The bundled catalog's AWS us-east-1 and GCE us-central1, one zone each, as the planner sees them. */
const REGIONS = [
  { providerId: 'aws-ec2:us-east-1', provider: 'aws-ec2', region: 'us-east-1', zones: ['us-east-1a'] },
  { providerId: 'gcp-compute:us-central1', provider: 'gcp-compute', region: 'us-central1', zones: ['us-central1-a'] },
];
const catalog = loadCatalog();
const book = new PriceBook(catalog);
const offerings: Offering[] = REGIONS.flatMap((r) => book.offerings(r));
const POLICY: Policy = {
  ...PRODUCTION_POLICY,
  pendingGraceMs: 0,
  limits: { maxInstances: 100, maxVcpus: 10_000, maxGpus: 64 },
};

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    nowMs: T0,
    policy: POLICY,
    pending: [],
    agents: [],
    openLaunches: [],
    offerings,
    unavailable: new Set(),
    ...overrides,
  };
}

/**
 * The cheapest catalog entry (straight from catalog.json, not through the price book or the planner) in the two
 * regions that holds `need`, at its on-demand or (when `spot`) its spot price.
 */
function cheapestInCatalog(
  need: Resources,
  opts: { gpuModel?: string; spot: boolean },
): { entry: CatalogEntry; microsPerHour: number } {
  let best: { entry: CatalogEntry; microsPerHour: number } | undefined;
  for (const entry of catalog.entries) {
    if (!REGIONS.some((r) => r.provider === entry.provider && r.region === entry.region)) continue;
    if (entry.vcpus * 1000 < need.cpuMillis || entry.memoryMiB < need.memoryMiB || entry.gpus < need.gpus) continue;
    if (opts.gpuModel && !(entry.gpuModel && gpuModelMatches(opts.gpuModel, entry.gpuModel))) continue;
    for (const price of [entry.onDemand, ...(opts.spot && entry.spot ? [entry.spot] : [])]) {
      if (!best || price.microsPerHour < best.microsPerHour) best = { entry, microsPerHour: price.microsPerHour };
    }
  }
  return best!;
}

describe('planner on the real catalog', () => {
  const a100Need = { cpuMillis: 8000, memoryMiB: 32_768, gpus: 1, netMbps: 0 };

  it('gives a task that needs one A100 the cheapest offering with that GPU across AWS and GCE', () => {
    const expected = cheapestInCatalog(a100Need, { gpuModel: 'A100', spot: false });
    const result = plan(input({ pending: [task({ resources: a100Need, constraints: { gpuModels: ['A100'] } })] }));
    assert.equal(result.launches.length, 1);
    const [launch] = result.launches;
    assert.equal(
      `${launch!.offering.provider}/${launch!.offering.instanceType}`,
      `${expected.entry.provider}/${expected.entry.instanceType}`,
    );
    assert.equal(launch!.offering.pricePerHourMicros, expected.microsPerHour);
    assert.equal(launch!.offering.lifecycle, 'on-demand');
    assert.match(launch!.offering.gpuModel!, /^A100/);
  });

  it('gives several one-A100 tasks A100 capacity at no more than the cheapest single-A100 offering each', () => {
    const expected = cheapestInCatalog(a100Need, { gpuModel: 'A100', spot: false });
    const pending = Array.from({ length: 3 }, () =>
      task({ resources: a100Need, constraints: { gpuModels: ['A100'] } }),
    );
    const result = plan(input({ pending }));
    assert.equal(result.launches.flatMap((l) => l.taskIds).length, 3);
    for (const l of result.launches)
      assert.ok(gpuModelMatches('A100', l.offering.gpuModel ?? ''), l.offering.instanceType);
    const cost = result.launches.reduce((c, l) => c + l.count * l.offering.pricePerHourMicros, 0);
    assert.ok(cost <= 3 * expected.microsPerHour, `${cost} <= 3 x ${expected.microsPerHour}`);
  });

  it('gives a revocable A100 task the cheapest A100 spot offering when spot is allowed', () => {
    const expected = cheapestInCatalog(a100Need, { gpuModel: 'A100', spot: true });
    const [launch] = plan(
      input({ pending: [task({ revocable: true, resources: a100Need, constraints: { gpuModels: ['A100'] } })] }),
    ).launches;
    assert.equal(launch!.offering.instanceType, expected.entry.instanceType);
    assert.equal(launch!.offering.pricePerHourMicros, expected.microsPerHour);
  });

  const cpuNeed = { cpuMillis: 2000, memoryMiB: 4096, gpus: 0, netMbps: 0 };
  const lifecycles = [
    { name: 'a revocable CPU task gets spot where allowed', revocable: true, spotAllowed: true, expected: 'spot' },
    {
      name: 'a revocable CPU task gets on-demand where spot is not allowed',
      revocable: true,
      spotAllowed: false,
      expected: 'on-demand',
    },
    { name: 'a non-revocable CPU task never gets spot', revocable: false, spotAllowed: true, expected: 'on-demand' },
  ];
  for (const c of lifecycles) {
    it(`${c.name}, at the cheapest price in the catalog`, () => {
      const pending = [task({ revocable: c.revocable, resources: cpuNeed })];
      const result = plan(input({ pending, policy: { ...POLICY, spot: { allowed: c.spotAllowed } } }));
      const [launch] = result.launches;
      assert.equal(launch!.offering.lifecycle, c.expected);
      const expected = cheapestInCatalog(cpuNeed, { spot: c.expected === 'spot' });
      assert.equal(launch!.offering.pricePerHourMicros, expected.microsPerHour);
    });
  }

  it('never bursts a private-only task, whatever it needs', () => {
    const pending = [
      task({ constraints: { privateOnly: true } }),
      task({ resources: a100Need, constraints: { privateOnly: true, gpuModels: ['A100'] } }),
    ];
    const result = plan(input({ pending }));
    assert.deepEqual(result.launches, []);
    assert.equal(result.waiting.filter((w) => /private-only/.test(w.reason)).length, 2);
  });

  it('costs at least the fluid lower bound for a mixed batch', async () => {
    const pending = [
      ...Array.from({ length: 12 }, () => task({ resources: { cpuMillis: 1500, memoryMiB: 6144 } })),
      ...Array.from({ length: 5 }, () => task({ revocable: true, resources: { cpuMillis: 4000, memoryMiB: 8192 } })),
      ...Array.from({ length: 2 }, () => task({ resources: { cpuMillis: 8000, memoryMiB: 61_440, gpus: 1 } })),
    ];
    const result = plan(input({ pending }));
    const cost = result.launches.reduce((c, l) => c + l.count * l.offering.pricePerHourMicros, 0);
    const bound = await fluidLowerBound(pending, offerings, POLICY);
    assert.equal(result.launches.flatMap((l) => l.taskIds).length, pending.length);
    assert.ok(cost >= bound.costPerHourMicros * (1 - 1e-6), `${cost} >= ${bound.costPerHourMicros}`);
    assert.ok(cost <= bound.costPerHourMicros * 1.5, `${cost} is near ${bound.costPerHourMicros}`);
  });
});
