import { fits, subtract, type Resources } from '../core/resources.ts';
import type { Agent } from '../core/agent.ts';

/**
 * Registered agents indexed by the shape of their free room (capacity less allocation). Placement asks which agents
 * have room for at least a given request: one check per distinct shape, not per agent, so a full pool of 50,000
 * agents costs one check.
 */
export class FreeRoomIndex {
  readonly #byShape = new Map<string, { readonly free: Resources; readonly agentIds: Set<string> }>();
  readonly #shapeOf = new Map<string, string>();

  /** Records an agent's free room now; an agent not registered leaves the index. */
  set(agent: Agent): void {
    this.delete(agent.id);
    if (agent.state !== 'registered') return;
    const free = subtract(agent.capacity, agent.allocated);
    const key = `${free.cpuMillis}/${free.memoryMiB}/${free.gpus}/${free.netMbps}`;
    let shape = this.#byShape.get(key);
    if (shape === undefined) {
      shape = { free, agentIds: new Set() };
      this.#byShape.set(key, shape);
    }
    shape.agentIds.add(agent.id);
    this.#shapeOf.set(agent.id, key);
  }

  delete(agentId: string): void {
    const key = this.#shapeOf.get(agentId);
    if (key === undefined) return;
    this.#shapeOf.delete(agentId);
    const shape = this.#byShape.get(key)!;
    shape.agentIds.delete(agentId);
    if (shape.agentIds.size === 0) this.#byShape.delete(key);
  }

  /** Ids of registered agents whose free room fits `request` (in no particular order). */
  withRoomFor(request: Resources): string[] {
    const ids: string[] = [];
    for (const shape of this.#byShape.values()) if (fits(request, shape.free)) ids.push(...shape.agentIds);
    return ids;
  }

  clear(): void {
    this.#byShape.clear();
    this.#shapeOf.clear();
  }
}
