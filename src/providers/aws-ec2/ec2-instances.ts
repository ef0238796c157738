import type { Instance as SdkInstance } from '@aws-sdk/client-ec2';
import type { Instance } from '../../core/instance.ts';
import { TAG_CLUSTER, TAG_INTENT } from './launch-input.ts';

/** Instance states `list` reports: everything that runs or may run again (stopped instances still cost storage). */
export const LIVE_STATE_NAMES = ['pending', 'running', 'stopping', 'stopped'] as const;

/** EC2's instance state as Spillway's: shutting-down counts as gone, stopped as stopping. */
function stateOf(name: string | undefined): Instance['state'] {
  switch (name) {
    case 'pending':
      return 'pending';
    case 'running':
      return 'running';
    case 'stopping':
    case 'stopped':
      return 'stopping';
    default:
      return 'terminated';
  }
}

/** An instance as the port reports it; undefined when EC2's answer lacks an id. */
export function toInstance(instance: SdkInstance, providerId: string): Instance | undefined {
  if (!instance.InstanceId) return undefined;
  const tag = (key: string): string | null => instance.Tags?.find((t) => t.Key === key)?.Value ?? null;
  return {
    id: instance.InstanceId,
    providerId,
    instanceType: instance.InstanceType ?? '',
    zone: instance.Placement?.AvailabilityZone ?? '',
    lifecycle: instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    state: stateOf(instance.State?.Name),
    intentId: tag(TAG_INTENT),
    clusterId: tag(TAG_CLUSTER),
    launchedAtMs: instance.LaunchTime?.getTime() ?? 0,
  };
}

/**
 * The instance ids an `InvalidInstanceID.NotFound` or `.Malformed` message names (`The instance IDs 'i-1, i-2' do not
 * exist`). EC2 fails the whole TerminateInstances call for them; the caller retries without them.
 */
export function instanceIdsIn(message: string, among: readonly string[]): string[] {
  return among.filter((id) => {
    const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^A-Za-z0-9-])${escaped}($|[^A-Za-z0-9-])`).test(message);
  });
}
