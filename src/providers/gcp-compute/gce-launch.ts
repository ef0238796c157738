import { createHash } from 'node:crypto';
import type { LaunchRequest } from '../provider.ts';
import type { GceBulkInsertRequest, GceInsertRequest } from './gce-api.ts';
import { STARTUP_SCRIPT_KEY } from './gce-boot-script.ts';
import { instanceName, launchLabels } from './gce-instances.ts';

/** Where and from what a launch's instances are created. */
export interface GceLaunchTarget {
  readonly project: string;
  /** A partial URL of the instance template: `projects/p/global/instanceTemplates/x`. */
  readonly instanceTemplate: string;
  /** The rendered startup script, the same for every call of the launch. */
  readonly startupScript: string;
}

/** One insert or bulkInsert call of a launch: instances `first` to `first + count - 1` of the intent. */
export interface GceLaunchChunk {
  readonly index: number;
  readonly first: number;
  readonly count: number;
}

/** How a launch of `count` is split into calls of at most `maxPerCall`: a pure function, so a retry makes the same calls. */
export function gceLaunchChunks(count: number, maxPerCall: number): GceLaunchChunk[] {
  const chunks: GceLaunchChunk[] = [];
  for (let first = 0; first < count; first += maxPerCall) {
    chunks.push({ index: chunks.length, first, count: Math.min(maxPerCall, count - first) });
  }
  return chunks;
}

/**
 * The requestId of chunk `index`: the intent id itself for the first (the whole launch, usually), and a UUID derived
 * from it for the others (GCE wants a UUID, not the zero one).
 */
export function gceRequestId(intentId: string, index: number): string {
  if (index === 0) return intentId;
  const hex = createHash('sha256').update(`${intentId}/${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The instance templates a config names: a bare name is the project's global template. */
export function templateUrl(project: string, template: string): string {
  if (template.startsWith('https://')) return template;
  if (template.startsWith('projects/')) return template;
  if (template.includes('/')) return `projects/${project}/${template}`;
  return `projects/${project}/global/instanceTemplates/${template}`;
}

/** Spot through `scheduling`: GCE deletes the instance when it reclaims it; on-demand keeps the template's. */
function scheduling(request: LaunchRequest): GceInsertRequest['instanceResource'] {
  return request.offering.lifecycle === 'spot'
    ? {
        scheduling: {
          provisioningModel: 'SPOT',
          instanceTerminationAction: 'DELETE',
          automaticRestart: false,
          onHostMaintenance: 'TERMINATE',
        },
      }
    : {};
}

/** The overrides of the template every instance of the launch gets: type, labels, startup script, Spot. */
function properties(request: LaunchRequest, target: GceLaunchTarget) {
  return {
    labels: launchLabels(request),
    metadata: { items: [{ key: STARTUP_SCRIPT_KEY, value: target.startupScript }] },
    ...scheduling(request),
  };
}

/** One `instances.insert` from the template: one instance named after the intent. */
export function insertRequest(
  request: LaunchRequest,
  chunk: GceLaunchChunk,
  target: GceLaunchTarget,
): GceInsertRequest {
  const { zone, instanceType } = request.offering;
  return {
    project: target.project,
    zone,
    requestId: gceRequestId(request.intentId, chunk.index),
    sourceInstanceTemplate: target.instanceTemplate,
    instanceResource: {
      name: instanceName(request.intentId, chunk.first),
      machineType: `zones/${zone}/machineTypes/${instanceType}`,
      ...properties(request, target),
    },
  };
}

/** One `instances.bulkInsert`: `count` identical instances, all or none (minCount = count), named after the intent. */
export function bulkInsertRequest(
  request: LaunchRequest,
  chunk: GceLaunchChunk,
  target: GceLaunchTarget,
): GceBulkInsertRequest {
  const names = Array.from({ length: chunk.count }, (_, i) => instanceName(request.intentId, chunk.first + i));
  return {
    project: target.project,
    zone: request.offering.zone,
    requestId: gceRequestId(request.intentId, chunk.index),
    bulkInsertInstanceResourceResource: {
      count: chunk.count,
      minCount: chunk.count,
      sourceInstanceTemplate: target.instanceTemplate,
      perInstanceProperties: Object.fromEntries(names.map((name) => [name, {}])),
      instanceProperties: {
        machineType: request.offering.instanceType,
        ...properties(request, target),
      },
    },
  };
}
