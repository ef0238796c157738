import { NOT_TERMINATED_AGENT_STATES, type Agent } from '../core/agent.ts';
import { microsToUsd } from '../core/money.ts';
import { ZERO, add, subtract, type Resources } from '../core/resources.ts';
import type { Store } from '../store/store.ts';
import type { LocationSummary, ProviderStatus, Status } from './types.ts';

/** How long a lost agent stays in the status after its last heartbeat. */
export const LOST_AGENT_VISIBLE_MS = 3_600_000;


/**
 * The pool at a glance, the same size at any pool size: agents counted by state and isolation, grouped by location,
 * never listed. Locations group the alive agents (provisioning, registered, draining) as `private:<site>` or
 * `<providerId>:<zone>`; `free` counts only registered agents, the only ones new work is placed on. Lost agents count
 * for an hour after their last heartbeat. Prices are summed in micro-USD and turned into dollars once.
 */
export function buildStatus(
  store: Store,
  nowMs: number,
  leader: boolean,
  providers: readonly ProviderStatus[] = [],
): Status {
  return store.transaction(() => {
    const agentCounts = { provisioning: 0, registered: 0, draining: 0, lost: 0 };
    const isolation: Record<string, number> = {};
    const alive: Agent[] = [];
    let cloudMicros = 0;
    for (const a of store.agents.list({ states: NOT_TERMINATED_AGENT_STATES })) {
      if (a.state === 'lost') {
        if (nowMs - a.lastHeartbeatMs <= LOST_AGENT_VISIBLE_MS) agentCounts.lost++;
        continue;
      }
      // Provisioning, registered, draining: they hold (or are about to hold) a machine and count in capacity and cost.
      if (a.state === 'terminated') continue;
      agentCounts[a.state]++;
      alive.push(a);
      if (a.location.kind === 'cloud') cloudMicros += a.pricePerHourMicros;
      if (a.state !== 'provisioning') {
        const mode = a.isolation ?? 'none';
        isolation[mode] = (isolation[mode] ?? 0) + 1;
      }
    }
    return {
      clusterId: store.meta.clusterId(),
      paused: store.policy.get().paused,
      leader,
      agentCounts,
      isolation,
      tasks: store.tasks.countByState(),
      locations: summarizeLocations(alive),
      cloudSpendPerHourUsd: microsToUsd(cloudMicros),
      providers,
    };
  });
}

/** `private:<site>` for private agents, `<providerId>:<zone>` for cloud ones. */
export function locationKey(agent: Agent): string {
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
