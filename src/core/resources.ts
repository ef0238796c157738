import { ValidationError } from './errors.ts';

/** A vector of the four resources Spillway schedules on. Every capacity, request and price works on all four. */
export interface Resources {
  readonly cpuMillis: number;
  readonly memoryMiB: number;
  readonly gpus: number;
  readonly netMbps: number;
}

export const ZERO: Resources = Object.freeze({ cpuMillis: 0, memoryMiB: 0, gpus: 0, netMbps: 0 });

export const RESOURCE_KEYS = ['cpuMillis', 'memoryMiB', 'gpus', 'netMbps'] as const;

export function resources(partial: Partial<Resources> = {}): Resources {
  return { ...ZERO, ...partial };
}

export function add(a: Resources, b: Resources): Resources {
  return {
    cpuMillis: a.cpuMillis + b.cpuMillis,
    memoryMiB: a.memoryMiB + b.memoryMiB,
    gpus: a.gpus + b.gpus,
    netMbps: a.netMbps + b.netMbps,
  };
}

export function subtract(a: Resources, b: Resources): Resources {
  return {
    cpuMillis: a.cpuMillis - b.cpuMillis,
    memoryMiB: a.memoryMiB - b.memoryMiB,
    gpus: a.gpus - b.gpus,
    netMbps: a.netMbps - b.netMbps,
  };
}

export function scale(a: Resources, factor: number): Resources {
  return {
    cpuMillis: a.cpuMillis * factor,
    memoryMiB: a.memoryMiB * factor,
    gpus: a.gpus * factor,
    netMbps: a.netMbps * factor,
  };
}

/** True when `request` fits in `free` on every dimension. */
export function fits(request: Resources, free: Resources): boolean {
  return (
    request.cpuMillis <= free.cpuMillis &&
    request.memoryMiB <= free.memoryMiB &&
    request.gpus <= free.gpus &&
    request.netMbps <= free.netMbps
  );
}

export function isZero(a: Resources): boolean {
  return a.cpuMillis === 0 && a.memoryMiB === 0 && a.gpus === 0 && a.netMbps === 0;
}

/**
 * The largest share of `capacity` that `used` takes on any dimension (Dominant Resource Fairness).
 * Dimensions where the capacity is zero are ignored.
 */
export function dominantShare(used: Resources, capacity: Resources): number {
  let share = 0;
  for (const key of RESOURCE_KEYS) {
    if (capacity[key] > 0) share = Math.max(share, used[key] / capacity[key]);
  }
  return share;
}

const MEMORY_UNITS: Readonly<Record<string, number>> = {
  '': 1 / (1024 * 1024),
  Ki: 1 / 1024,
  Mi: 1,
  Gi: 1024,
  Ti: 1024 * 1024,
  K: 1000 / (1024 * 1024),
  M: 1_000_000 / (1024 * 1024),
  G: 1_000_000_000 / (1024 * 1024),
};

/**
 * Parses a Kubernetes-style memory quantity (`512Mi`, `4Gi`, `1.5G`, a plain byte count) into MiB, rounded up.
 * Throws a ValidationError naming `field` when the text is not a quantity.
 */
export function parseMemoryMiB(text: string, field = 'memory'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G)?\s*$/.exec(text);
  if (!match) {
    throw new ValidationError(field, `expected a memory quantity such as 512Mi or 4Gi, got ${JSON.stringify(text)}`);
  }
  const factor = MEMORY_UNITS[match[2] ?? ''] ?? 1;
  return Math.ceil(Number(match[1]) * factor);
}

/** Parses a CPU quantity (`2`, `0.5`, `500m`) into millicores. */
export function parseCpuMillis(text: string, field = 'cpu'): number {
  const match = /^\s*(\d+(?:\.\d+)?)(m)?\s*$/.exec(text);
  if (!match) throw new ValidationError(field, `expected a CPU quantity such as 2, 0.5 or 500m, got ${JSON.stringify(text)}`);
  const value = Number(match[1]);
  return match[2] ? Math.ceil(value) : Math.round(value * 1000);
}

export function formatMemory(memoryMiB: number): string {
  if (memoryMiB >= 1024 && memoryMiB % 1024 === 0) return `${memoryMiB / 1024}Gi`;
  return `${memoryMiB}Mi`;
}

export function formatResources(r: Resources): string {
  const parts = [`cpu=${r.cpuMillis / 1000}`, `mem=${formatMemory(r.memoryMiB)}`];
  if (r.gpus) parts.push(`gpus=${r.gpus}`);
  if (r.netMbps) parts.push(`net=${r.netMbps}Mbps`);
  return parts.join(' ');
}
