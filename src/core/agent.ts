import type { Location } from './location.ts';
import type { Resources } from './resources.ts';

export const AgentState = {
  provisioning: 'provisioning',
  registered: 'registered',
  draining: 'draining',
  terminated: 'terminated',
  lost: 'lost',
} as const;
export type AgentState = (typeof AgentState)[keyof typeof AgentState];

/** States of an agent that is, or may still be, a machine: it counts in capacity (lost: it may still bill). */
export const LIVE_AGENT_STATES: readonly AgentState[] = ['provisioning', 'registered', 'draining'];
export const NOT_TERMINATED_AGENT_STATES: readonly AgentState[] = [...LIVE_AGENT_STATES, 'lost'];

export const Lifecycle = { private: 'private', onDemand: 'on-demand', spot: 'spot' } as const;
export type Lifecycle = (typeof Lifecycle)[keyof typeof Lifecycle];

/** One machine of the pool, private or cloud. */
export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly location: Location;
  readonly capacity: Resources;
  /** Sum of the resources of the tasks placed or running on it. */
  readonly allocated: Resources;
  readonly labels: Readonly<Record<string, string>>;
  readonly lifecycle: Lifecycle;
  /** Micro-USD per hour; 0 for private agents (their amortized rate lives in the cost model). */
  readonly pricePerHourMicros: number;
  readonly state: AgentState;
  /** The provider's id of the instance behind a cloud agent; null for private agents. */
  readonly instanceId: string | null;
  /** The provider that launched it (`local:demo`, `aws-ec2:us-east-1`); null for private agents. */
  readonly providerId: string | null;
  /** The launch intent behind a cloud agent. */
  readonly intentId: string | null;
  readonly registeredAtMs: number;
  readonly lastHeartbeatMs: number;
  /** Since when it has had no task; null while it has one. */
  readonly idleSinceMs: number | null;
  readonly reason: string;
  /** How it isolates its tasks, as it registered: `none` runs them as the agent's own user. */
  readonly isolation?: AgentIsolation;
}

/** How an agent isolates its tasks (src/agent/isolation/). */
export const AgentIsolation = { cgroupV1: 'cgroup-v1', cgroupV2: 'cgroup-v2', none: 'none' } as const;
export type AgentIsolation = (typeof AgentIsolation)[keyof typeof AgentIsolation];
