import type { Instance } from '../../core/instance.ts';
import type { Offering } from '../../core/offering.ts';
import type { CallOptions, CloudProvider, LaunchRequest } from '../../providers/provider.ts';
import type { SlurmShape } from './slurm-config.ts';

/** Offering and task labels for Slurm features and partitions (`slurm.io/feature.a100: '1'`). */
export const FEATURE_LABEL = 'slurm.io/feature.';
export const PARTITION_LABEL = 'slurm.io/partition.';

/** The shape configured for an offering: same instance type, and the shape's provider (id or kind) if it names one. */
export function shapeOf(
  shapes: readonly SlurmShape[],
  offering: Pick<Offering, 'instanceType' | 'providerId' | 'provider'>,
): SlurmShape | undefined {
  return shapes.find(
    (s) =>
      s.instanceType === offering.instanceType &&
      (s.provider === undefined || s.provider === offering.providerId || s.provider === offering.provider),
  );
}

/** The features a cloud node of this shape joins with: `cloud`, the provider kind, the instance type, the extras. */
export function nodeFeatures(shape: SlurmShape, offering: Pick<Offering, 'provider' | 'instanceType'>): string[] {
  return [...new Set(['cloud', offering.provider, offering.instanceType, ...shape.features])].map(slurmWord);
}

/** `slurmd --conf` for a cloud node of this offering: its CPUs, memory and features. */
export function nodeConf(shape: SlurmShape, offering: Offering): string {
  const cpus = Math.max(1, Math.floor(offering.capacity.cpuMillis / 1000));
  return `CPUs=${cpus} RealMemory=${offering.capacity.memoryMiB} Feature=${nodeFeatures(shape, offering).join(',')}`;
}

/** Expands a Slurm host list (`priv-[1-3,5],gpu-a`) into names. */
export function expandHostList(list: string): string[] {
  const names: string[] = [];
  for (const item of list.match(/[^,[]+(?:\[[^\]]*\][^,[]*)*/g) ?? []) {
    const m = /^([^[]*)\[([^\]]*)\](.*)$/.exec(item);
    if (!m) {
      if (item && item !== '(null)') names.push(item);
      continue;
    }
    for (const part of m[2]!.split(',')) {
      const [lo, hi] = part.split('-');
      if (hi === undefined) {
        names.push(...expandHostList(`${m[1]}${lo}${m[3]}`));
        continue;
      }
      for (let i = Number(lo); i <= Number(hi); i++) {
        names.push(...expandHostList(`${m[1]}${String(i).padStart(lo!.length, '0')}${m[3]}`));
      }
    }
  }
  return names;
}

/** Partition -> the placeholders (shapes) it holds. */
export function shapesByPartition(
  partitions: ReadonlyMap<string, string>,
  shapes: readonly SlurmShape[],
): Map<string, Set<string>> {
  const placeholders = new Set(shapes.map((s) => s.placeholder));
  const result = new Map<string, Set<string>>();
  for (const [name, nodes] of partitions) {
    const held = new Set(expandHostList(nodes).filter((n) => placeholders.has(n)));
    if (held.size > 0) result.set(name, held);
  }
  return result;
}

/**
 * A provider as the Slurm pool's planner sees it: only offerings a shape covers, each labelled with its nodes'
 * features and the partitions its placeholder is in, so a job's constraints pick the shapes Slurm would run it on.
 * Everything else passes through unchanged.
 */
export class SlurmShapedProvider implements CloudProvider {
  readonly id: string;
  readonly kind: string;
  readonly #inner: CloudProvider;
  readonly #shapes: readonly SlurmShape[];
  readonly #partitions: () => ReadonlyMap<string, ReadonlySet<string>>;
  /** The inner provider's, when it has one: the boot script kept with each intent. */
  readonly bootScriptFor?: (request: LaunchRequest) => string;

  constructor(
    inner: CloudProvider,
    shapes: readonly SlurmShape[],
    partitions: () => ReadonlyMap<string, ReadonlySet<string>>,
  ) {
    this.id = inner.id;
    this.kind = inner.kind;
    this.#inner = inner;
    this.#shapes = shapes;
    this.#partitions = partitions;
    if (inner.bootScriptFor) this.bootScriptFor = (request) => inner.bootScriptFor!(request);
  }

  async offerings(opts?: CallOptions): Promise<Offering[]> {
    const offerings: Offering[] = [];
    for (const offering of await this.#inner.offerings(opts)) {
      const shape = shapeOf(this.#shapes, offering);
      if (!shape) continue;
      const labels: Record<string, string> = { ...offering.labels };
      for (const f of nodeFeatures(shape, offering)) labels[`${FEATURE_LABEL}${f}`] = '1';
      for (const [partition, held] of this.#partitions())
        if (held.has(shape.placeholder)) labels[`${PARTITION_LABEL}${partition}`] = '1';
      offerings.push({ ...offering, labels });
    }
    return offerings;
  }

  launch(request: LaunchRequest, opts?: CallOptions): Promise<Instance[]> {
    return this.#inner.launch(request, opts);
  }

  terminate(instanceIds: readonly string[], opts?: CallOptions): Promise<void> {
    return this.#inner.terminate(instanceIds, opts);
  }

  list(clusterId: string, opts?: CallOptions): Promise<Instance[]> {
    return this.#inner.list(clusterId, opts);
  }
}

/** A Slurm feature word: what is not a letter, digit, `_`, `.` or `-` becomes `_`. */
function slurmWord(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '_');
}
