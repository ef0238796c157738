/** Limits on what may run in the cloud at once, counted over launched and in-flight instances. */
export interface Limits {
  readonly maxInstances: number;
  readonly maxVcpus: number;
  readonly maxGpus: number;
  /**
   * `policy.limits` only: at most this many pending tasks per team; a submission past it gets 429 with Retry-After.
   * Unset: no quota.
   */
  readonly maxPendingPerTeam?: number;
}

/** The platform team's burst rules. Stored, audited, changed through the API. */
export interface Policy {
  /** The kill switch: while true, nothing is launched. */
  readonly paused: boolean;
  /** How long a task may wait unplaced before it causes a launch. */
  readonly pendingGraceMs: number;
  /** How long a cloud agent may sit without a task before it is drained and terminated. */
  readonly idleTtlMs: number;
  /** How long an instance may take to register; its bootstrap credential expires then and it is terminated. */
  readonly maxProvisionMs: number;
  /** How long an instance that carries this cluster's tag but matches no intent may live before it is terminated. */
  readonly unknownInstanceGraceMs: number;
  /** Provider ids (`aws-ec2:us-east-1`) or kinds (`aws-ec2`) allowed to burst to; empty allows every configured one. */
  readonly providers: readonly string[];
  /** Regions allowed; empty allows all. */
  readonly regions: readonly string[];
  /** Instance-type prefixes allowed (`m7i.`, `n2-standard`); empty allows all. */
  readonly instanceFamilies: readonly string[];
  readonly spot: { readonly allowed: boolean };
  readonly limits: Limits;
  /** Per provider kind or id. */
  readonly providerLimits: Readonly<Record<string, Limits>>;
  /**
   * Tasks run only on agents that isolate them (their own uid and cgroup); an agent registered with `isolation:
   * none` gets none. Absent means true; only the embedded demo config sets false.
   */
  readonly requireIsolation?: boolean;
  /** Teams whose tasks may reach the cloud metadata service (instance role, user data); absent or empty: none. */
  readonly metadataAccessTeams?: readonly string[];
}

export const PRODUCTION_POLICY: Policy = Object.freeze({
  paused: false,
  pendingGraceMs: 60_000,
  idleTtlMs: 600_000,
  maxProvisionMs: 600_000,
  unknownInstanceGraceMs: 900_000,
  providers: [],
  regions: [],
  instanceFamilies: [],
  spot: { allowed: true },
  limits: { maxInstances: 100, maxVcpus: 1_000, maxGpus: 16 },
  providerLimits: {},
});

/** The demo's policy: short enough that the README walk-through takes a minute. */
export const DEMO_POLICY: Policy = Object.freeze({
  ...PRODUCTION_POLICY,
  pendingGraceMs: 3_000,
  idleTtlMs: 15_000,
  maxProvisionMs: 60_000,
  unknownInstanceGraceMs: 30_000,
  limits: { maxInstances: 8, maxVcpus: 32, maxGpus: 0 },
  // The demo runs as whoever types `npm start`, usually not root: its agents cannot isolate tasks.
  requireIsolation: false,
});
