import type { TaskGroup } from '../../src/autoscaler/planner-groups.ts';
import type { pack } from '../../src/autoscaler/planner-packing.ts';
import type { PackingInput } from '../../src/autoscaler/planner-packing-types.ts';
import type { Offering } from '../../src/core/offering.ts';
import { offering } from '../fakes/builders.ts';

/** Builders for the packer's tests (planner-packing*.test.ts): offerings, task groups, inputs and plans as text. */

export function off(instanceType: string, cpuMillis: number, memoryMiB: number, price: number, gpus = 0, netMbps = 0): Offering {
  return offering({ instanceType, capacity: { cpuMillis, memoryMiB, gpus, netMbps }, pricePerHourMicros: price });
}

export function group(
  cpuMillis: number,
  memoryMiB: number,
  opts: { classIndex?: number; priority?: number; gpus?: number; netMbps?: number } = {},
): TaskGroup {
  const { classIndex = 0, priority = 0, gpus = 0, netMbps = 0 } = opts;
  return {
    key: `g-${cpuMillis}-${memoryMiB}-${gpus}-${netMbps}-${classIndex}-${priority}`,
    classIndex,
    priority,
    size: { cpuMillis, memoryMiB, gpus, netMbps },
    tasks: [],
  };
}

/** Every class may use every offering unless `eligibility` says otherwise. */
export function input(
  groups: TaskGroup[],
  counts: number[],
  offerings: Offering[],
  eligibility?: Uint8Array,
  classCount = 1,
): PackingInput {
  return { groups, counts, offerings, eligibility: eligibility ?? new Uint8Array(classCount * offerings.length).fill(1), classCount };
}

/** The plan as offering names and contents, for readable comparisons. */
export function shape(offerings: readonly Offering[], packing: ReturnType<typeof pack>): string[] {
  return packing.patterns.map(
    (p) => `${p.times} x ${offerings[p.offering]!.instanceType} [${p.items.map((i) => `g${i.group}:${i.count}`).join(' ')}]`,
  );
}

/** Eligibility over `offerings` for two classes: class 0 may run every offering but the first, class 1 only the first. */
export function firstForClassOne(offerings: readonly Offering[]): Uint8Array {
  const eligibility = new Uint8Array(2 * offerings.length);
  for (let o = 1; o < offerings.length; o++) eligibility[o] = 1;
  eligibility[offerings.length] = 1;
  return eligibility;
}
