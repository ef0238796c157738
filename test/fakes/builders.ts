import type { Agent } from '../../src/core/agent.ts';
import type { LaunchIntent } from '../../src/core/intent.ts';
import type { Offering } from '../../src/core/offering.ts';
import { DEMO_POLICY, type Policy } from '../../src/core/policy.ts';
import { resources, ZERO, type Resources } from '../../src/core/resources.ts';
import type { Task } from '../../src/core/task.ts';

/** Test builders: defaults plus overrides. */
export const T0 = Date.UTC(2026, 0, 1);

let seq = 0;
const next = (prefix: string): string => `${prefix}-${String(++seq).padStart(4, '0')}`;

export function task(overrides: Partial<Omit<Task, 'resources'>> & { resources?: Partial<Resources> } = {}): Task {
  const { resources: r, ...rest } = overrides;
  return {
    id: next('t'),
    owner: { team: 'ml', project: 'vision', job: 'train' },
    resources: resources({ cpuMillis: 1000, memoryMiB: 1024, ...r }),
    priority: 0,
    revocable: false,
    constraints: {},
    command: ['true'],
    state: 'pending',
    agentId: null,
    attempts: 0,
    createdAtMs: T0,
    pendingSinceMs: T0,
    startedAtMs: null,
    finishedAtMs: null,
    exitCode: null,
    outputTail: '',
    reason: '',
    ...rest,
  };
}

export function offering(overrides: Partial<Omit<Offering, 'capacity'>> & { capacity?: Partial<Resources> } = {}): Offering {
  const { capacity, ...rest } = overrides;
  const base = {
    providerId: 'local:test',
    provider: 'local',
    region: 'local',
    zone: 'local-a',
    instanceType: 'local.small',
    lifecycle: 'on-demand' as const,
    pricePerHourMicros: 100_000,
    bootMs: 1000,
    gpuModel: null,
    available: true,
    ...rest,
  };
  return {
    ...base,
    capacity: resources({ cpuMillis: 2000, memoryMiB: 4096, netMbps: 1000, ...capacity }),
    labels: rest.labels ?? { 'spillway.io/instance-type': base.instanceType, 'spillway.io/lifecycle': base.lifecycle },
  };
}

export function agent(overrides: Partial<Omit<Agent, 'capacity' | 'allocated'>> & { capacity?: Partial<Resources>; allocated?: Partial<Resources> } = {}): Agent {
  const { capacity, allocated, ...rest } = overrides;
  return {
    id: next('a'),
    name: 'agent',
    location: { kind: 'private', site: 'local' },
    capacity: resources({ cpuMillis: 2000, memoryMiB: 4096, netMbps: 1000, ...capacity }),
    allocated: { ...ZERO, ...allocated },
    labels: {},
    lifecycle: 'private',
    pricePerHourMicros: 0,
    state: 'registered',
    instanceId: null,
    providerId: null,
    intentId: null,
    registeredAtMs: T0,
    lastHeartbeatMs: T0,
    idleSinceMs: null,
    reason: '',
    ...rest,
  };
}

export function cloudAgent(overrides: Parameters<typeof agent>[0] = {}): Agent {
  return agent({
    location: { kind: 'cloud', provider: 'local', region: 'local', zone: 'local-a' },
    lifecycle: 'on-demand',
    providerId: 'local:test',
    instanceId: next('i'),
    pricePerHourMicros: 100_000,
    ...overrides,
  });
}

export function launchIntent(o: Offering, overrides: Partial<LaunchIntent> = {}): LaunchIntent {
  return {
    id: next('intent'),
    kind: 'launch',
    providerId: o.providerId,
    offering: o,
    count: 1,
    owners: [],
    reason: 'test',
    state: 'pending',
    instanceIds: [],
    createdAtMs: T0,
    updatedAtMs: T0,
    attempts: 0,
    error: '',
    ...overrides,
  };
}

export function policy(overrides: Partial<Policy> = {}): Policy {
  return { ...DEMO_POLICY, pendingGraceMs: 5_000, ...overrides };
}
