/** The fields of an openapi v0.0.38 node (`sinfo --json`) Spillway reads. */
export interface SlurmNode {
  readonly name: string;
  /** Base state, lowercase: `idle`, `mixed`, `allocated`, `down`, `future`... */
  readonly state: string;
  /** `DRAIN`, `NOT_RESPONDING`, `DYNAMIC`... */
  readonly state_flags?: readonly string[];
  readonly cpus: number;
  readonly alloc_cpus?: number;
  readonly real_memory: number;
  readonly alloc_memory?: number;
  readonly features?: string;
  readonly reason?: string;
}

/** The nodes of an `sinfo --json` answer, by name. */
export function nodesOf(json: unknown): Map<string, SlurmNode> {
  const nodes = (json as { nodes?: unknown } | null)?.nodes;
  const byName = new Map<string, SlurmNode>();
  if (!Array.isArray(nodes)) return byName;
  for (const node of nodes as SlurmNode[]) if (typeof node?.name === 'string') byName.set(node.name, node);
  return byName;
}

function flags(node: SlurmNode): readonly string[] {
  return (node.state_flags ?? []).map((f) => f.toUpperCase());
}

/** Slurm gave up on it: down, or not answering pings. */
export function isNodeDown(node: SlurmNode): boolean {
  return node.state.toLowerCase() === 'down' || flags(node).includes('NOT_RESPONDING');
}

export function isNodeDraining(node: SlurmNode): boolean {
  return flags(node).includes('DRAIN');
}

/** Drained: set to drain and nothing runs on it any more. */
export function isNodeDrained(node: SlurmNode): boolean {
  return isNodeDraining(node) && (node.alloc_cpus ?? 0) === 0 && ['idle', 'down'].includes(node.state.toLowerCase());
}

/** Nothing allocated on it. */
export function isNodeIdle(node: SlurmNode): boolean {
  return (node.alloc_cpus ?? 0) === 0 && (node.alloc_memory ?? 0) === 0;
}
