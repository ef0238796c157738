import { NOT_TERMINATED_AGENT_STATES, type Agent } from '../core/agent.ts';
import { microsToUsd } from '../core/money.ts';
import { ZERO, add, subtract, type Resources } from '../core/resources.ts';
import type { AsyncStore } from '../store/async-store.ts';
import type { LocationSummary, ProviderStatus, Status } from './types.ts';

/** How long a lost agent stays in the status after its last heartbeat. */
export const LOST_AGENT_VISIBLE_MS = 3_600_000;

/** Agents read per step of the status; between steps the event loop serves other requests. */
export const STATUS_PAGE_AGENTS = 500;

/**
 * The pool at a glance, the same size at any pool size: agents counted by state and isolation, grouped by location,
 * never listed. Locations group the alive agents (provisioning, registered, draining) as `private:<site>` or
 * `<providerId>:<zone>`; `free` counts only registered agents, the only ones new work is placed on. Lost agents count
 * for an hour after their last heartbeat. Prices are summed in micro-USD and turned into dollars once.
 *
 * Where the agents come from: `agents`, when given, is the leading controller's in-memory model (src/model/), whose
 * agents carry their allocation already: counting 10,000 of them takes a few milliseconds, and it is as fresh as the
 * model (its last refresh, at most one pass old). Without it (a standby, or a leader still loading its model) the
 * agents are read from the store a page of STATUS_PAGE_AGENTS at a time, yielding to the event loop between pages, so
 * a status of a large pool never holds the API up: at 10,000 agents running 300,000 tasks one read of them all (with
 * their allocation, summed from every running task) took 190 to 255 ms, a page of 500 about 18 ms. The pages are not
 * one snapshot: an agent that changes state while they are read may count in its old state or its new one.
 */
export async function buildStatus(
  store: AsyncStore,
  nowMs: number,
  leader: boolean,
  providers: readonly ProviderStatus[] = [],
  agents?: readonly Agent[],
): Promise<Status> {
  const agentCounts = { provisioning: 0, registered: 0, draining: 0, lost: 0 };
  const isolation: Record<string, number> = {};
  const locations = new Map<string, LocationTotals>();
  let cloudMicros = 0;
  const count = (page: readonly Agent[]): void => {
    for (const a of page) {
      if (a.state === 'lost') {
        if (nowMs - a.lastHeartbeatMs <= LOST_AGENT_VISIBLE_MS) agentCounts.lost++;
        continue;
      }
      // Provisioning, registered, draining: they hold (or are about to hold) a machine and count in capacity and cost.
      if (a.state === 'terminated') continue;
      agentCounts[a.state]++;
      addToLocation(locations, a);
      if (a.location.kind === 'cloud') cloudMicros += a.pricePerHourMicros;
      if (a.state !== 'provisioning') {
        const mode = a.isolation ?? 'none';
        isolation[mode] = (isolation[mode] ?? 0) + 1;
      }
    }
  };
  await visitAgents(store, count, agents);
  return {
    clusterId: await store.meta.clusterId(),
    paused: (await store.policy.get()).paused,
    leader,
    agentCounts,
    isolation,
    tasks: await store.tasks.countByState(),
    locations: summarizeLocations(locations),
    cloudSpendPerHourUsd: microsToUsd(cloudMicros),
    providers,
  };
}

/**
 * Calls `visit` with every agent not terminated: `fromModel` (the leading controller's model's) at once when given,
 * else the store's a page of STATUS_PAGE_AGENTS at a time, yielding to the event loop between pages (see
 * `buildStatus`: the pages are not one snapshot).
 */
export async function visitAgents(
  store: AsyncStore,
  visit: (agents: readonly Agent[]) => void,
  fromModel?: readonly Agent[],
): Promise<void> {
  if (fromModel !== undefined) {
    visit(fromModel);
    return;
  }
  let after: number | undefined;
  do {
    const page = await store.agents.page({
      states: NOT_TERMINATED_AGENT_STATES,
      limit: STATUS_PAGE_AGENTS,
      ...(after !== undefined && { after }),
    });
    visit(page.agents);
    after = page.next ?? undefined;
    if (after !== undefined) await new Promise((resolve) => setImmediate(resolve));
  } while (after !== undefined);
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

interface LocationTotals {
  kind: 'private' | 'cloud';
  agents: number;
  capacity: Resources;
  allocated: Resources;
  free: Resources;
  micros: number;
}

function addToLocation(locations: Map<string, LocationTotals>, agent: Agent): void {
  const key = locationKey(agent);
  let t = locations.get(key);
  if (t === undefined) {
    t = { kind: agent.location.kind, agents: 0, capacity: ZERO, allocated: ZERO, free: ZERO, micros: 0 };
    locations.set(key, t);
  }
  t.agents++;
  t.capacity = add(t.capacity, agent.capacity);
  t.allocated = add(t.allocated, agent.allocated);
  if (agent.state === 'registered') t.free = add(t.free, atLeastZero(subtract(agent.capacity, agent.allocated)));
  t.micros += agent.pricePerHourMicros;
}

function summarizeLocations(locations: ReadonlyMap<string, LocationTotals>): LocationSummary[] {
  return [...locations.entries()]
    .map(([location, t]): LocationSummary => ({
      location,
      kind: t.kind,
      agents: t.agents,
      capacity: t.capacity,
      allocated: t.allocated,
      free: t.free,
      pricePerHourUsd: microsToUsd(t.micros),
    }))
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
