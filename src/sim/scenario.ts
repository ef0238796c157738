import { basename } from 'node:path';
import type { Offering } from '../core/offering.ts';
import { PRODUCTION_POLICY, type Policy } from '../core/policy.ts';
import { toBudgetSpec } from '../config/budget-schema.ts';
import { effectivePolicy, type Config } from '../config/schema.ts';
import type { BudgetSpec } from '../cost-model/budget.ts';
import { loadCatalog } from '../cost-model/catalog.ts';
import { PriceBook } from '../cost-model/price-book.ts';
import { DEFAULT_PRIVATE_RATES, type PrivateRates } from '../cost-model/private-rates.ts';
import { allowedOfferings } from '../cost-model/price-book-filter.ts';
import { ValidationError } from '../core/errors.ts';
import { ec2Offerings } from '../providers/aws-ec2/ec2-offerings.ts';
import { catalogOfferings } from '../providers/catalog-offerings.ts';
import { localOfferings } from '../providers/local/offerings.ts';
import { readAlibabaNodes, readAlibabaPods } from './alibaba-reader.ts';
import type { PrivateMachine, SimCloud } from './simulation.ts';
import { readSwf, readSwfHeader } from './swf-reader.ts';
import type { TraceReadOptions, TraceTask } from './trace.ts';

/** A trace, opened: how to stream its tasks, when it starts, and the private cluster it ran on. */
export interface OpenedTrace {
  readonly kind: 'swf' | 'alibaba';
  /** A fresh stream of its tasks each call (one per simulated run). */
  tasks(): AsyncIterable<TraceTask>;
  readonly startMs: number;
  /** The cluster the trace describes: SWF's MaxProcs, the Alibaba node list; undefined when unknown. */
  readonly privateMachines: readonly PrivateMachine[] | undefined;
  /** Jobs in the trace, when the header says (for progress). */
  readonly expectedTasks: number | undefined;
}

export interface TraceOpenOptions extends TraceReadOptions {
  /** The private cluster's CPUs instead of the trace's own (one machine of that many CPUs). */
  readonly privateCpus?: number;
  /** Stop after this many tasks (a slice of the trace). */
  readonly limit?: number;
  /** SWF memory per processor when the log has none; default 1,024 MiB. */
  readonly memoryPerProcessorMiB?: number;
}

/** Where a trace's time starts when its header does not say: 2026-01-01 UTC. */
const DEFAULT_START_MS = Date.UTC(2026, 0, 1);

/**
 * Opens an SWF log (`.swf`, `.swf.gz`) or an Alibaba pod list (`.csv`). The default private cluster:
 * - SWF: one machine of the header's `MaxProcs` CPUs (1,024 MiB each, or `memoryPerProcessorMiB`): an SWF job is
 *   gang-scheduled across the machine's processors, and a Spillway task runs on one agent, so one agent of the whole
 *   machine holds every job that ran on it;
 * - Alibaba: the machines of `openb_node_list_all_node.csv` beside the pod list, when it is there.
 * `privateCpus` replaces either with one machine of that many CPUs. Nothing is read beyond the header here.
 */
export async function openTrace(path: string, opts: TraceOpenOptions = {}): Promise<OpenedTrace> {
  const limited = (source: () => AsyncIterable<TraceTask>) => () => take(source(), opts.limit ?? Infinity);
  if (/\.csv$/i.test(path)) {
    const nodes = path.replace(/[^/]*$/, 'openb_node_list_all_node.csv');
    let machines: PrivateMachine[] | undefined;
    if (opts.privateCpus === undefined && basename(path).startsWith('openb_pod_list')) {
      try {
        machines = [];
        for await (const n of readAlibabaNodes(nodes, opts)) {
          machines.push({ name: n.name, capacity: n.capacity, labels: n.gpuModel ? { 'gpu.model': n.gpuModel } : {} });
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        machines = undefined;
      }
    }
    return {
      kind: 'alibaba',
      tasks: limited(() => readAlibabaPods(path, opts)),
      startMs: DEFAULT_START_MS,
      privateMachines:
        opts.privateCpus !== undefined ? [machine(opts.privateCpus, opts.memoryPerProcessorMiB)] : machines,
      expectedTasks: undefined,
    };
  }
  const header = await readSwfHeader(path);
  const cpus = opts.privateCpus ?? header.maxProcs ?? undefined;
  return {
    kind: 'swf',
    tasks: limited(() => readSwf(path, opts)),
    startMs: header.unixStartTime !== null ? header.unixStartTime * 1000 : DEFAULT_START_MS,
    privateMachines: cpus === undefined ? undefined : [machine(cpus, opts.memoryPerProcessorMiB)],
    expectedTasks: Math.min(header.maxJobs ?? Infinity, opts.limit ?? Infinity) || undefined,
  };
}

function machine(cpus: number, memoryPerProcessorMiB = 1_024): PrivateMachine {
  if (!(cpus > 0)) throw new ValidationError('--private-cpus', `expected a positive number of CPUs, got ${cpus}`);
  return {
    name: 'private-0',
    capacity: {
      cpuMillis: Math.round(cpus * 1000),
      memoryMiB: Math.ceil(cpus * memoryPerProcessorMiB),
      gpus: 0,
      netMbps: 0,
    },
    labels: {},
  };
}

async function* take(source: AsyncIterable<TraceTask>, limit: number): AsyncGenerator<TraceTask> {
  if (limit <= 0) return;
  let n = 0;
  for await (const task of source) {
    yield task;
    if (++n >= limit) return;
  }
}

/** What the simulator takes from spillway.yaml: the policy, budgets, clouds and private rates. */
export interface SimConfig {
  readonly policy: Policy;
  readonly budgets: readonly BudgetSpec[];
  readonly clouds: readonly SimCloud[];
  readonly privateRates: PrivateRates;
}

/**
 * The clouds of the default simulation (no config): every instance type of the bundled catalog in AWS us-east-1
 * (zone us-east-1a) and GCE us-central1 (zone us-central1-a), on-demand and spot, at the catalog's prices and the
 * price book's boot times. The production policy's defaults, but without instance limits other than a year's worth.
 */
export function defaultSimConfig(): SimConfig {
  const book = new PriceBook(loadCatalog());
  const regions = [
    { providerId: 'aws-ec2:us-east-1', provider: 'aws-ec2', region: 'us-east-1', zones: ['us-east-1a'] },
    { providerId: 'gcp-compute:us-central1', provider: 'gcp-compute', region: 'us-central1', zones: ['us-central1-a'] },
  ];
  return {
    policy: PRODUCTION_POLICY,
    budgets: [],
    clouds: regions.map((r) => ({ providerId: r.providerId, kind: r.provider, offerings: book.offerings(r) })),
    privateRates: DEFAULT_PRIVATE_RATES,
  };
}

/** The simulation's view of a validated config: its providers' offerings (capacity and prices as the product builds them). */
export function simConfigFrom(config: Config): SimConfig {
  const book = new PriceBook(loadCatalog());
  const clouds: SimCloud[] = config.providers.map((p): SimCloud => {
    switch (p.kind) {
      case 'local': {
        const providerId = `local:${p.name}`;
        return {
          providerId,
          kind: 'local',
          offerings: localOfferings(p, providerId),
          capacityPerOffering: p.capacityPerZone,
        };
      }
      case 'aws-ec2': {
        const providerId = `aws-ec2:${p.name ?? p.region}`;
        return {
          providerId,
          kind: 'aws-ec2',
          offerings: ec2Offerings(p, providerId, undefined, (type, zone) =>
            book.lookup('aws-ec2', p.region, type, zone),
          ),
        };
      }
      default: {
        const providerId = `gcp-compute:${p.name ?? p.region}`;
        return {
          providerId,
          kind: 'gcp-compute',
          offerings: catalogOfferings({
            provider: 'gcp-compute',
            providerId,
            region: p.region,
            zones: p.zones,
            types: p.instanceTypes,
            bootMs: p.bootMs,
            catalog: (type, zone) => book.lookup('gcp-compute', p.region, type, zone),
          }),
        };
      }
    }
  });
  return {
    policy: effectivePolicy(config),
    budgets: config.budgets.map((b) => toBudgetSpec(b.name, b)),
    clouds,
    privateRates: config.privateRates,
  };
}

/** One of the runs a simulation report compares. */
export interface Variant {
  readonly name: 'spillway' | 'private-only' | 'fixed-node-group';
  readonly description: string;
  readonly policy: Policy;
  readonly clouds: readonly SimCloud[];
}

/**
 * The three runs on the same trace: Spillway as configured; private-only (bursting paused: the kill switch, so
 * nothing is ever launched); and a fixed node group, Cluster Autoscaler's model: one on-demand instance type chosen
 * up front, scaled by count. Its type is the cheapest allowed on-demand offering that fits the trace's largest
 * task (`largest`), which is what an operator sizing one node group for everything would pick.
 */
export function variants(sim: SimConfig, largest: { cpuMillis: number; memoryMiB: number; gpus: number }): Variant[] {
  const onDemand = allowedOfferings(
    sim.policy,
    sim.clouds.flatMap((c) => c.offerings),
  ).filter(
    (o) =>
      o.lifecycle === 'on-demand' &&
      o.capacity.cpuMillis >= largest.cpuMillis &&
      o.capacity.memoryMiB >= largest.memoryMiB &&
      o.capacity.gpus >= largest.gpus,
  );
  const group = onDemand.sort((a, b) => a.pricePerHourMicros - b.pricePerHourMicros)[0];
  const only = (o: Offering | undefined): SimCloud[] =>
    o === undefined
      ? []
      : sim.clouds.filter((c) => c.providerId === o.providerId).map((c) => ({ ...c, offerings: [o] }));
  return [
    { name: 'spillway', description: 'Spillway, as configured', policy: sim.policy, clouds: sim.clouds },
    { name: 'private-only', description: 'never burst', policy: { ...sim.policy, paused: true }, clouds: sim.clouds },
    {
      name: 'fixed-node-group',
      description: group
        ? `one node group of ${group.instanceType} (${group.providerId}, on-demand), scaled by count`
        : 'one node group: no allowed on-demand type fits the largest task',
      policy: { ...sim.policy, paused: group === undefined ? true : sim.policy.paused },
      clouds: only(group),
    },
  ];
}
