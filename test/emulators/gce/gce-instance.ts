/** A machine type the emulator knows, with its real shape (Compute Engine machine families page). */
export interface EmulatedMachineType {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
}

export const DEFAULT_MACHINE_TYPES: readonly EmulatedMachineType[] = [
  { name: 'e2-highcpu-2', vcpus: 2, memoryMiB: 2048 },
  { name: 'e2-standard-2', vcpus: 2, memoryMiB: 8192 },
  { name: 'e2-standard-4', vcpus: 4, memoryMiB: 16384 },
  { name: 'n2-standard-2', vcpus: 2, memoryMiB: 8192 },
  { name: 'n2d-standard-2', vcpus: 2, memoryMiB: 8192 },
];

export type GceStatus = 'PROVISIONING' | 'STAGING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';

/** One instance the emulator runs. */
export interface EmulatedGceInstance {
  readonly id: string;
  readonly name: string;
  readonly zone: string;
  readonly machineType: string;
  readonly spot: boolean;
  /** `DELETE` or `STOP`, for Spot. */
  readonly terminationAction: string;
  readonly template: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly metadata: ReadonlyMap<string, string>;
  readonly createdAtMs: number;
  status: GceStatus;
  /** The metadata server's `instance/preempted`. */
  preempted: boolean;
  /** Bumped at every metadata change: the ETag `wait_for_change` compares. */
  metadataVersion: number;
  /** Deleted (no longer listed). */
  deleted: boolean;
  /** `deletionProtection`: a delete is refused (400 invalidResourceUsage) until it is lifted. */
  deletionProtection?: boolean;
  /** When the delete began, and the status before it (what an eventually consistent list still shows a while). */
  deletedAt?: { readonly atMs: number; readonly before: GceStatus };
}

/** The Instance resource as the REST API answers it. */
export function instanceJson(i: EmulatedGceInstance, project: string, baseUrl: string): Record<string, unknown> {
  const zoneUrl = `${baseUrl}/compute/v1/projects/${project}/zones/${i.zone}`;
  return {
    kind: 'compute#instance',
    id: i.id,
    creationTimestamp: new Date(i.createdAtMs).toISOString(),
    name: i.name,
    machineType: `${zoneUrl}/machineTypes/${i.machineType}`,
    status: i.status,
    zone: zoneUrl,
    labels: i.labels,
    labelFingerprint: 'emulated',
    metadata: { kind: 'compute#metadata', items: [...i.metadata].map(([key, value]) => ({ key, value })) },
    scheduling: i.spot
      ? {
          provisioningModel: 'SPOT',
          instanceTerminationAction: i.terminationAction,
          automaticRestart: false,
          preemptible: true,
          onHostMaintenance: 'TERMINATE',
        }
      : { provisioningModel: 'STANDARD', automaticRestart: true, preemptible: false, onHostMaintenance: 'MIGRATE' },
    selfLink: `${zoneUrl}/instances/${i.name}`,
  };
}
