import type { Owner } from '../../src/core/owner.ts';
import { resources } from '../../src/core/resources.ts';
import type { Budget } from '../../src/cost-model/budget.ts';
import type { AgentInterval, UsageInterval } from '../../src/cost-model/ledger.ts';

/** Test builders for ledger intervals and budgets: defaults plus overrides. */
export const T0 = Date.UTC(2026, 0, 1);
export const SECOND = 1_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/** The run count of property tests: SPILLWAY_PROPERTY_RUNS (CI sets >= 1000), default 100. */
export function propertyRuns(): number {
  const raw = Number(process.env.SPILLWAY_PROPERTY_RUNS ?? 100);
  return Number.isSafeInteger(raw) && raw > 0 ? raw : 100;
}

export function owner(team: string, project = 'p', job = 'j'): Owner {
  return { team, project, job };
}

let seq = 0;

export function cloudInterval(overrides: Partial<AgentInterval> = {}): AgentInterval {
  const n = ++seq;
  return {
    agentId: `a-${n}`,
    name: `i-${n}`,
    location: { kind: 'cloud', provider: 'aws-ec2', region: 'us-east-1', zone: 'us-east-1a' },
    provider: 'aws-ec2',
    providerId: 'aws-ec2:us-east-1',
    instanceId: `i-${n}`,
    instanceType: 'm7i.large',
    lifecycle: 'on-demand',
    // 100 micro-USD per second, so hand-computed shares stay whole numbers.
    pricePerHourMicros: 360_000,
    capacity: resources({ cpuMillis: 4000, memoryMiB: 8192 }),
    intentId: `intent-${n}`,
    owners: [],
    startMs: T0,
    endMs: T0 + HOUR,
    ...overrides,
  };
}

export function privateInterval(overrides: Partial<AgentInterval> = {}): AgentInterval {
  const n = ++seq;
  return cloudInterval({
    agentId: `a-${n}`,
    name: `rack-${n}`,
    location: { kind: 'private', site: 'dc-1' },
    provider: 'private',
    providerId: null,
    instanceId: null,
    instanceType: '',
    lifecycle: 'private',
    pricePerHourMicros: 0,
    intentId: null,
    ...overrides,
  });
}

export function usage(
  agent: AgentInterval,
  who: Owner,
  share: number,
  startMs: number,
  endMs: number | null,
  overrides: Partial<UsageInterval> = {},
): UsageInterval {
  const n = ++seq;
  return { id: n, taskId: `t-${n}`, agentId: agent.agentId, owner: who, share, startMs, endMs, ...overrides };
}

export function budget(overrides: Partial<Budget> = {}): Budget {
  const n = ++seq;
  return {
    id: `bud-${String(n).padStart(4, '0')}`,
    name: `budget-${n}`,
    scope: { kind: 'global' },
    period: 'day',
    capMicros: 1_000_000,
    onCap: 'preempt',
    createdAtMs: T0,
    updatedAtMs: T0,
    ...overrides,
  };
}
