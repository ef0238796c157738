import type { _InstanceType, RunInstancesCommandInput, Tag } from '@aws-sdk/client-ec2';
import type { LaunchRequest } from '../provider.ts';

/** Tags every Spillway instance carries: list finds instances by the cluster tag, reconcile adopts by the intent tag. */
export const TAG_CLUSTER = 'spillway.io/cluster';
export const TAG_INTENT = 'spillway.io/intent';
export const TAG_TEAM = 'spillway.io/team';
export const TAG_PROJECT = 'spillway.io/project';
export const TAG_JOB = 'spillway.io/job';

/** EC2 caps tag values at 256 characters. */
const MAX_TAG_VALUE = 256;

export interface LaunchTemplateRef {
  readonly id?: string | undefined;
  readonly name?: string | undefined;
  readonly version: string;
}

export interface LaunchTarget {
  readonly launchTemplate: LaunchTemplateRef;
  /** The subnet of the offering's zone. */
  readonly subnetId: string;
  /** Base64 user data, the same for every call of the launch. */
  readonly userData: string;
}

/**
 * How a launch of `count` instances is split into RunInstances calls of at most `maxPerCall`: a pure function of the
 * two, so a retry after a crash makes the same calls with the same client tokens.
 */
export function launchChunks(count: number, maxPerCall: number): number[] {
  const chunks: number[] = [];
  for (let left = count; left > 0; left -= maxPerCall) chunks.push(Math.min(left, maxPerCall));
  return chunks;
}

/**
 * The ClientToken of chunk `index`: the intent id itself for the first (the whole launch, usually), and the intent id
 * with a suffix for the others. At most 64 ASCII characters, as EC2 requires.
 */
export function clientToken(intentId: string, index: number): string {
  return index === 0 ? intentId : `${intentId}/${index}`;
}

/** The tags of a launch's instances and volumes. */
export function launchTags(request: LaunchRequest): Tag[] {
  const tags: Array<[string, string]> = [
    ['Name', `spillway-${request.clusterId}`],
    [TAG_CLUSTER, request.clusterId],
    [TAG_INTENT, request.intentId],
    [TAG_TEAM, request.owner.team],
    [TAG_PROJECT, request.owner.project],
    [TAG_JOB, request.owner.job],
  ];
  return tags
    .filter(([, value]) => value !== '')
    .map(([Key, Value]) => ({ Key, Value: Value.slice(0, MAX_TAG_VALUE) }));
}

/**
 * One RunInstances call: the launch template (image, security groups, instance profile) with the offering's type and
 * the zone's subnet, `count` identical instances or none (MinCount = MaxCount), spot through InstanceMarketOptions,
 * tags on the instances and their volumes, and the chunk's client token.
 */
export function runInstancesInput(
  request: LaunchRequest,
  chunk: { readonly index: number; readonly count: number },
  target: LaunchTarget,
): RunInstancesCommandInput {
  const { offering } = request;
  const template = target.launchTemplate;
  const tags = launchTags(request);
  return {
    ClientToken: clientToken(request.intentId, chunk.index),
    MinCount: chunk.count,
    MaxCount: chunk.count,
    LaunchTemplate: {
      ...(template.id === undefined ? {} : { LaunchTemplateId: template.id }),
      ...(template.name === undefined ? {} : { LaunchTemplateName: template.name }),
      Version: template.version,
    },
    InstanceType: offering.instanceType as _InstanceType,
    SubnetId: target.subnetId,
    UserData: target.userData,
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
    ...(offering.lifecycle === 'spot'
      ? {
          InstanceMarketOptions: {
            MarketType: 'spot',
            SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
          },
        }
      : {}),
  };
}
