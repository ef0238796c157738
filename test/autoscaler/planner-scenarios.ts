import fc from 'fast-check';
import type { PlanInput } from '../../src/autoscaler/planner.ts';
import type { Agent } from '../../src/core/agent.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import { offeringKey, type Offering } from '../../src/core/offering.ts';
import type { Limits, Policy } from '../../src/core/policy.ts';
import { RESOURCE_KEYS, type Resources } from '../../src/core/resources.ts';
import type { TaskHeader as Task } from '../../src/core/task.ts';
import { cloudAgent, launchIntent, offering, policy, T0, task } from '../fakes/builders.ts';

/**
 * Random planner inputs for the planner's properties: offerings over several providers, regions, families and GPU
 * models; tasks with constraints; policies with roomy or tight limits; a fleet of agents and launches in flight; and
 * sometimes a budget on the sum of launched prices.
 */
/** Runs per property: SPILLWAY_PROPERTY_RUNS (CI sets at least 1000), default 100. */
export const RUNS = Number(process.env['SPILLWAY_PROPERTY_RUNS'] ?? 100);
export const NOW = T0 + 60_000;
export const GRACE_MS = 5_000;

export const LOCATIONS = [
  { providerId: 'aws-ec2:us-east-1', provider: 'aws-ec2', region: 'us-east-1', zones: ['us-east-1a', 'us-east-1b'] },
  { providerId: 'aws-ec2:eu-west-1', provider: 'aws-ec2', region: 'eu-west-1', zones: ['eu-west-1a'] },
  { providerId: 'gcp-compute:us-central1', provider: 'gcp-compute', region: 'us-central1', zones: ['us-central1-a'] },
] as const;
const FAMILIES = ['m7i.', 'c7g.', 'n2-', 'g5.', 'a2-'] as const;
const GPU_MODELS = ['A100-40GB', 'A100-80GB', 'T4-16GB', 'L4'] as const;

const sometimes = <T>(rare: fc.Arbitrary<T>, usual: T, weight = 4): fc.Arbitrary<T> =>
  fc.oneof({ weight, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: rare });

const offeringArb = fc.record({
  location: fc.integer({ min: 0, max: LOCATIONS.length - 1 }),
  zone: fc.integer({ min: 0, max: 1 }),
  family: fc.constantFrom(...FAMILIES),
  cpuMillis: fc.integer({ min: 500, max: 64_000 }),
  memoryMiB: fc.integer({ min: 512, max: 262_144 }),
  gpus: sometimes(fc.integer({ min: 1, max: 8 }), 0, 3),
  gpuModel: fc.constantFrom(...GPU_MODELS),
  netMbps: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 50_000 })),
  lifecycle: fc.constantFrom('on-demand' as const, 'spot' as const),
  pricePerHourMicros: fc.integer({ min: 1_000, max: 20_000_000 }),
  pool: fc.constantFrom(undefined, 'a', 'b'),
  available: sometimes(fc.constant(false), true, 9),
});

const offeringsArb = fc.array(offeringArb, { minLength: 1, maxLength: 40, size: 'max' }).map((specs) =>
  specs.map((s, i): Offering => {
    const loc = LOCATIONS[s.location]!;
    const zone = loc.zones[s.zone % loc.zones.length]!;
    const instanceType = `${s.family}${i}`;
    const gpuModel = s.gpus > 0 ? s.gpuModel : null;
    return offering({
      providerId: loc.providerId,
      provider: loc.provider,
      region: loc.region,
      zone,
      instanceType,
      capacity: { cpuMillis: s.cpuMillis, memoryMiB: s.memoryMiB, gpus: s.gpus, netMbps: s.netMbps },
      lifecycle: s.lifecycle,
      pricePerHourMicros: s.pricePerHourMicros,
      gpuModel,
      available: s.available,
      labels: {
        'spillway.io/instance-type': instanceType,
        'spillway.io/lifecycle': s.lifecycle,
        'spillway.io/zone': zone,
        ...(s.pool ? { pool: s.pool } : {}),
        ...(gpuModel ? { 'gpu.model': gpuModel } : {}),
      },
    });
  }),
);

const taskArb = fc.record({
  cpuMillis: fc.integer({ min: 0, max: 16_000 }),
  memoryMiB: fc.integer({ min: 0, max: 65_536 }),
  gpus: sometimes(fc.integer({ min: 1, max: 2 }), 0),
  netMbps: sometimes(fc.integer({ min: 1, max: 5_000 }), 0),
  revocable: fc.boolean(),
  priority: fc.integer({ min: 0, max: 2 }),
  privateOnly: sometimes(fc.constant(true), false, 9),
  providers: sometimes(fc.subarray(['aws-ec2', 'gcp-compute:us-central1', 'local'], { minLength: 1 }), undefined, 7),
  gpuModels: sometimes(fc.constantFrom(['A100'], ['T4', 'L4'], ['A100-80GB']), undefined, 2),
  pool: sometimes(fc.constantFrom('a', 'b'), undefined, 7),
  waited: sometimes(fc.constant(false), true),
  team: fc.constantFrom('red', 'blue'),
});

const tasksArb = fc.array(taskArb, { maxLength: 50, size: 'max' }).map((specs) =>
  specs.map((s, i): Task =>
    task({
      id: `t-${String(i).padStart(3, '0')}`,
      owner: { team: s.team, project: 'p', job: `j${i % 4}` },
      resources: { cpuMillis: s.cpuMillis, memoryMiB: s.memoryMiB, gpus: s.gpus, netMbps: s.netMbps },
      revocable: s.revocable,
      priority: s.priority,
      pendingSinceMs: s.waited ? T0 : NOW - 1,
      constraints: {
        ...(s.privateOnly ? { privateOnly: true } : {}),
        ...(s.providers ? { providers: s.providers } : {}),
        ...(s.gpuModels && s.gpus > 0 ? { gpuModels: s.gpuModels } : {}),
        ...(s.pool ? { labels: { pool: s.pool } } : {}),
      },
    }),
  ),
);

/** Mostly roomy limits (so most runs launch), often tight ones (so limits bind). */
const limitsArb: fc.Arbitrary<Limits> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ maxInstances: 1_000, maxVcpus: 100_000, maxGpus: 1_000 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      maxInstances: fc.integer({ min: 0, max: 30 }),
      maxVcpus: fc.integer({ min: 0, max: 600 }),
      maxGpus: fc.integer({ min: 0, max: 24 }),
    }),
  },
);

const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    providers: sometimes(
      fc.subarray(['aws-ec2', 'gcp-compute:us-central1', 'aws-ec2:eu-west-1'], { minLength: 1 }),
      [] as string[],
      6,
    ),
    regions: sometimes(fc.subarray(['us-east-1', 'eu-west-1', 'us-central1'], { minLength: 1 }), [] as string[], 6),
    instanceFamilies: sometimes(fc.subarray([...FAMILIES], { minLength: 1 }), [] as string[], 6),
    spotAllowed: fc.boolean(),
    limits: limitsArb,
    providerLimits: fc.option(
      fc.record({ scope: fc.constantFrom('aws-ec2', 'gcp-compute:us-central1'), limits: limitsArb }),
    ),
    paused: sometimes(fc.constant(true), false, 39),
  })
  .map((p) =>
    policy({
      pendingGraceMs: GRACE_MS,
      providers: p.providers,
      regions: p.regions,
      instanceFamilies: p.instanceFamilies,
      spot: { allowed: p.spotAllowed },
      limits: p.limits,
      providerLimits: p.providerLimits ? { [p.providerLimits.scope]: p.providerLimits.limits } : {},
      paused: p.paused,
    }),
  );

/** Cloud agents already running or booting, and launches in flight (some already adopted as agents). */
const fleetArb = fc.record({
  agents: fc.array(
    fc.record({
      location: fc.integer({ min: 0, max: LOCATIONS.length - 1 }),
      cpuMillis: fc.integer({ min: 1_000, max: 32_000 }),
      gpus: sometimes(fc.integer({ min: 1, max: 4 }), 0),
      provisioning: fc.boolean(),
    }),
    { maxLength: 4 },
  ),
  launches: fc.array(
    fc.record({ offering: fc.nat(), count: fc.integer({ min: 1, max: 3 }), adopted: fc.integer({ min: 0, max: 1 }) }),
    { maxLength: 3 },
  ),
  unavailable: fc.array(fc.nat(), { maxLength: 3 }),
  budgetMicros: fc.option(fc.integer({ min: 0, max: 30_000_000 }), { freq: 2 }),
});

export interface Scenario {
  readonly offerings: Offering[];
  readonly tasks: Task[];
  readonly policy: Policy;
  readonly agents: Agent[];
  readonly openLaunches: LaunchIntent[];
  readonly unavailable: Set<string>;
  readonly budgetMicros: number | null;
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ offerings: offeringsArb, tasks: tasksArb, policy: policyArb, fleet: fleetArb })
  .map(({ offerings, tasks, policy: p, fleet }) => {
    const agents: Agent[] = fleet.agents.map((a, i) => {
      const loc = LOCATIONS[a.location]!;
      return cloudAgent({
        id: `a-${i}`,
        location: { kind: 'cloud', provider: loc.provider, region: loc.region, zone: loc.zones[0] },
        providerId: loc.providerId,
        capacity: { cpuMillis: a.cpuMillis, memoryMiB: 8192, gpus: a.gpus },
        state: a.provisioning ? 'provisioning' : 'registered',
      });
    });
    const openLaunches: LaunchIntent[] = [];
    if (offerings.length > 0) {
      fleet.launches.forEach((l, i) => {
        const o = offerings[l.offering % offerings.length]!;
        const intent = launchIntent(o, { id: `intent-${i}`, count: l.count });
        openLaunches.push(intent);
        for (let k = 0; k < Math.min(l.adopted, l.count); k++) {
          agents.push(
            cloudAgent({
              id: `a-intent-${i}-${k}`,
              location: { kind: 'cloud', provider: o.provider, region: o.region, zone: o.zone },
              providerId: o.providerId,
              capacity: o.capacity,
              lifecycle: o.lifecycle,
              labels: o.labels,
              intentId: intent.id,
              state: 'provisioning',
            }),
          );
        }
      });
    }
    const unavailable = new Set(
      offerings.length ? fleet.unavailable.map((i) => offeringKey(offerings[i % offerings.length]!)) : [],
    );
    return { offerings, tasks, policy: p, agents, openLaunches, unavailable, budgetMicros: fleet.budgetMicros };
  });

/** A fresh input (admitLaunch keeps a tally, like a budget check), and the record of what it admitted. */
/** `spentMicros()`: the sum of prices admitted so far (what the scenario's budget counts). */
export function inputOf(s: Scenario): { input: PlanInput; admitted: string[]; spentMicros: () => number } {
  const admitted: string[] = [];
  let spent = 0;
  const admitLaunch =
    s.budgetMicros === null
      ? undefined
      : (o: Offering, tasks: readonly Task[]): string | undefined => {
          if (spent + o.pricePerHourMicros > s.budgetMicros!)
            return `budget: ${spent} + ${o.pricePerHourMicros} > ${s.budgetMicros}`;
          spent += o.pricePerHourMicros;
          admitted.push(instanceKey(o, tasks));
          return undefined;
        };
  return {
    input: {
      nowMs: NOW,
      policy: s.policy,
      pending: s.tasks,
      agents: s.agents,
      openLaunches: s.openLaunches,
      offerings: s.offerings,
      unavailable: s.unavailable,
      ...(admitLaunch ? { admitLaunch } : {}),
    },
    admitted,
    spentMicros: () => spent,
  };
}

export function instanceKey(o: Offering, tasks: readonly Task[]): string {
  return `${offeringKey(o)} ${tasks
    .map((t) => t.id)
    .sort()
    .join(',')}`;
}

export function sum(tasks: readonly Task[]): Resources {
  const total = { cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 };
  for (const t of tasks) for (const k of RESOURCE_KEYS) total[k] += t.resources[k];
  return total;
}

/** Instances, vCPUs and GPUs per limit scope: running and booting agents, un-adopted in-flight launches, and `extra`. */
export function tally(
  s: Scenario,
  extra: readonly Offering[],
): Map<string, { instances: number; vcpus: number; gpus: number }> {
  const scopes = new Map<string, { instances: number; vcpus: number; gpus: number }>();
  const count = (providerId: string, provider: string, r: Resources, n: number): void => {
    for (const scope of new Set(['total', providerId, provider])) {
      const t = scopes.get(scope) ?? { instances: 0, vcpus: 0, gpus: 0 };
      t.instances += n;
      t.vcpus += Math.ceil(r.cpuMillis / 1000) * n;
      t.gpus += r.gpus * n;
      scopes.set(scope, t);
    }
  };
  for (const a of s.agents) if (a.location.kind === 'cloud') count(a.providerId!, a.location.provider, a.capacity, 1);
  for (const l of s.openLaunches) {
    const adopted = s.agents.filter((a) => a.intentId === l.id).length;
    if (l.count > adopted) count(l.providerId, l.offering.provider, l.offering.capacity, l.count - adopted);
  }
  for (const o of extra) count(o.providerId, o.provider, o.capacity, 1);
  return scopes;
}

