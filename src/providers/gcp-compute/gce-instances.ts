import type { Instance } from '../../core/instance.ts';
import type { LaunchRequest } from '../provider.ts';
import type { GceInstance } from './gce-api.ts';

/** Labels every Spillway instance carries: list finds instances by the cluster label, reconcile adopts by the intent. */
export const LABEL_CLUSTER = 'spillway-cluster';
export const LABEL_INTENT = 'spillway-intent';
export const LABEL_TEAM = 'spillway-team';
export const LABEL_PROJECT = 'spillway-project';
export const LABEL_JOB = 'spillway-job';

/** GCE label values: at most 63 of lowercase letters, digits, `_` and `-`. */
export function labelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63);
}

/** The labels of a launch's instances. Owner fields are folded into what GCE accepts. */
export function launchLabels(request: LaunchRequest): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL_CLUSTER]: request.clusterId,
    [LABEL_INTENT]: request.intentId,
  };
  const owner: Array<[string, string]> = [
    [LABEL_TEAM, request.owner.team],
    [LABEL_PROJECT, request.owner.project],
    [LABEL_JOB, request.owner.job],
  ];
  for (const [key, value] of owner) if (value !== '') labels[key] = labelValue(value);
  return labels;
}

/**
 * The name of instance `index` of an intent: derived from the intent id alone, so a retry after a crash names the
 * same instances and GCE refuses a second one of a name (names are unique in a zone).
 */
export function instanceName(intentId: string, index: number): string {
  return `spw-${intentId.toLowerCase()}-${index}`;
}

/** Spillway's id of a GCE instance: `zone/name` (what delete needs; the agent reads both from the metadata server). */
export function instanceId(zone: string, name: string): string {
  return `${zone}/${name}`;
}

/** The zone and name in an instance id; undefined for an id that is not `zone/name`. */
export function parseInstanceId(id: string): { zone: string; name: string } | undefined {
  const match = /^([a-z]+-[a-z]+\d+-[a-z])\/([a-z]([-a-z0-9]{0,61}[a-z0-9])?)$/.exec(id);
  return match ? { zone: match[1]!, name: match[2]! } : undefined;
}

/** The last segment of a resource URL (`.../zones/us-central1-a` -> `us-central1-a`). */
export function lastSegment(url: string | null | undefined): string {
  return (url ?? '').split('/').pop() ?? '';
}

/** GCE's instance status as Spillway's: TERMINATED (stopped, still holding its disk) counts as stopping. */
function stateOf(status: string | null | undefined): Instance['state'] {
  switch (status) {
    case 'PROVISIONING':
    case 'STAGING':
      return 'pending';
    case 'RUNNING':
      return 'running';
    case 'STOPPING':
    case 'SUSPENDING':
    case 'SUSPENDED':
    case 'TERMINATED':
    case 'REPAIRING':
      return 'stopping';
    default:
      return 'pending';
  }
}

/** An instance as the port reports it; undefined without a name or zone. */
export function toInstance(instance: GceInstance, providerId: string): Instance | undefined {
  const zone = lastSegment(instance.zone);
  if (!instance.name || !zone) return undefined;
  const labels = instance.labels ?? {};
  const created = instance.creationTimestamp ? Date.parse(instance.creationTimestamp) : Number.NaN;
  return {
    id: instanceId(zone, instance.name),
    providerId,
    instanceType: lastSegment(instance.machineType),
    zone,
    lifecycle:
      instance.scheduling?.provisioningModel === 'SPOT' || instance.scheduling?.preemptible ? 'spot' : 'on-demand',
    state: stateOf(instance.status),
    intentId: labels[LABEL_INTENT] ?? null,
    clusterId: labels[LABEL_CLUSTER] ?? null,
    launchedAtMs: Number.isNaN(created) ? 0 : created,
  };
}

/** The instances a successful launch created: named after the intent, pending until GCE boots them. */
export function launchedInstances(request: LaunchRequest, providerId: string, nowMs: number): Instance[] {
  const { offering, intentId } = request;
  return Array.from({ length: request.count }, (_, i) => ({
    id: instanceId(offering.zone, instanceName(intentId, i)),
    providerId,
    instanceType: offering.instanceType,
    zone: offering.zone,
    lifecycle: offering.lifecycle,
    state: 'pending',
    intentId,
    clusterId: request.clusterId,
    launchedAtMs: nowMs,
  }));
}
