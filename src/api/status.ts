import { LIVE_AGENT_STATES, type Agent, type AgentState } from '../core/agent.ts';
import { microsToUsd } from '../core/money.ts';
import { ZERO, add, subtract, type Resources } from '../core/resources.ts';
import type { Store } from '../store/store.ts';
import type { LocationSummary, ProviderStatus, Status } from './types.ts';

/** How long a lost agent stays in the status after its last heartbeat. */
export const LOST_AGENT_VISIBLE_MS = 3_600_000;

/** Agents that hold (or are about to hold) a machine: they count towards capacity and cost. */
const ALIVE: ReadonlySet<AgentState> = new Set(LIVE_AGENT_STATES);

/**
 * The pool at a glance. Locations group the alive agents (provisioning, registered, draining) as `private:<site>` or
 * `<providerId>:<zone>`; `free` counts only registered agents, the only ones new work is placed on. Prices are summed
 * in micro-USD and turned into dollars once.
 */
export function buildStatus(
  store: Store,
  nowMs: number,
  leader: boolean,
  providers: readonly ProviderStatus[] = [],
): Status {
  return store.transaction(() => {
    const agents = store.agents
      .list()
      .filter(
        (a) => a.state !== 'terminated' && (a.state !== 'lost' || nowMs - a.lastHeartbeatMs <= LOST_AGENT_VISIBLE_MS),
      );
    const alive = agents.filter((a) => ALIVE.has(a.state));
    const cloudMicros = alive
      .filter((a) => a.location.kind === 'cloud')
      .reduce((sum, a) => sum + a.pricePerHourMicros, 0);
    return {
      clusterId: store.meta.clusterId(),
      paused: store.policy.get().paused,
      leader,
      agents,
      tasks: store.tasks.countByState(),
      locations: summarizeLocations(alive),
      cloudSpendPerHourUsd: microsToUsd(cloudMicros),
      providers,
    };
  });
}

/**
 * `private:<site>` for private agents, `<providerId>:<zone>` for cloud ones (of an agent, or of a ledger interval: the
 * pool's history groups by the same keys as the status).
 */
export function locationKey(agent: Pick<Agent, 'location' | 'providerId'>): string {
  const { location } = agent;
  return location.kind === 'private'
    ? `private:${location.site}`
    : `${agent.providerId ?? location.provider}:${location.zone}`;
}

function summarizeLocations(agents: readonly Agent[]): LocationSummary[] {
  const groups = new Map<string, { kind: 'private' | 'cloud'; agents: Agent[] }>();
  for (const agent of agents) {
    const key = locationKey(agent);
    const group = groups.get(key) ?? { kind: agent.location.kind, agents: [] };
    group.agents.push(agent);
    groups.set(key, group);
  }
  return [...groups.entries()]
    .map(([location, group]): LocationSummary => {
      let capacity: Resources = ZERO;
      let allocated: Resources = ZERO;
      let free: Resources = ZERO;
      let micros = 0;
      for (const agent of group.agents) {
        capacity = add(capacity, agent.capacity);
        allocated = add(allocated, agent.allocated);
        if (agent.state === 'registered') free = add(free, atLeastZero(subtract(agent.capacity, agent.allocated)));
        micros += agent.pricePerHourMicros;
      }
      return {
        location,
        kind: group.kind,
        agents: group.agents.length,
        capacity,
        allocated,
        free,
        pricePerHourUsd: microsToUsd(micros),
      };
    })
    .sort((a, b) => (a.kind === b.kind ? a.location.localeCompare(b.location) : a.kind === 'private' ? -1 : 1));
}

function atLeastZero(r: Resources): Resources {
  return {
    cpuMillis: Math.max(0, r.cpuMillis),
    memoryMiB: Math.max(0, r.memoryMiB),
    gpus: Math.max(0, r.gpus),
    netMbps: Math.max(0, r.netMbps),
  };
}
