import { el, isoTime, itemSet, node, type Xml } from './xml.ts';

export type InstanceStateName = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

/** EC2's numeric state codes (the low byte of `instanceState.code`). */
export const STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** One instance the emulator runs. */
export interface EmulatedInstance {
  readonly id: string;
  readonly reservationId: string;
  readonly clientToken: string | undefined;
  readonly imageId: string;
  readonly instanceType: string;
  readonly zone: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly lifecycle: 'on-demand' | 'spot';
  readonly spotRequestId: string | undefined;
  readonly launchTemplate: { readonly id: string; readonly name: string; readonly version: string };
  readonly launchTimeMs: number;
  readonly amiLaunchIndex: number;
  readonly privateIp: string;
  /** Base64, as RunInstances received it. */
  readonly userData: string;
  readonly tags: ReadonlyMap<string, string>;
  state: InstanceStateName;
  stateReason: { readonly code: string; readonly message: string } | undefined;
  stateTransitionReason: string;
  terminatedAtMs: number | undefined;
  /** `disableApiTermination`: TerminateInstances refuses it (and the others of its zone in the same call). */
  disableApiTermination?: boolean;
  /** When a terminate began, and the state before it (what an eventually consistent list still shows for a while). */
  shutDownAtMs?: { readonly atMs: number; readonly before: InstanceStateName };
  /** A scheduled spot interruption: what spot/instance-action serves. */
  interruption: { readonly action: 'terminate'; readonly timeMs: number } | undefined;
}

export function isLive(instance: EmulatedInstance): boolean {
  return instance.state !== 'shutting-down' && instance.state !== 'terminated';
}

function stateXml(name: string, state: InstanceStateName): Xml {
  return node(name, [el('code', STATE_CODES[state]), el('name', state)]);
}

/** The `<item>` body of an instance in RunInstances and DescribeInstances answers. */
export function instanceXml(i: EmulatedInstance): Xml {
  return [
    el('instanceId', i.id),
    el('imageId', i.imageId),
    stateXml('instanceState', i.state),
    el('privateDnsName', `ip-${i.privateIp.replaceAll('.', '-')}.ec2.internal`),
    el('reason', i.stateTransitionReason || undefined),
    el('amiLaunchIndex', i.amiLaunchIndex),
    el('instanceType', i.instanceType),
    el('launchTime', isoTime(i.launchTimeMs)),
    node('placement', [el('availabilityZone', i.zone), el('tenancy', 'default')]),
    node('monitoring', [el('state', 'disabled')]),
    el('subnetId', i.subnetId),
    el('vpcId', i.vpcId),
    el('privateIpAddress', i.privateIp),
    el('architecture', 'x86_64'),
    el('rootDeviceType', 'ebs'),
    el('rootDeviceName', '/dev/xvda'),
    el('instanceLifecycle', i.lifecycle === 'spot' ? 'spot' : undefined),
    el('spotInstanceRequestId', i.spotRequestId),
    el('clientToken', i.clientToken),
    itemSet(
      'tagSet',
      [...i.tags].map(([key, value]) => el('key', key) + el('value', value)),
    ),
    i.stateReason ? node('stateReason', [el('code', i.stateReason.code), el('message', i.stateReason.message)]) : '',
    el('hypervisor', 'xen'),
    el('virtualizationType', 'hvm'),
  ].join('');
}

/** A TerminateInstances answer's `<item>` body. */
export function stateChangeXml(id: string, previous: InstanceStateName, current: InstanceStateName): Xml {
  return el('instanceId', id) + stateXml('currentState', current) + stateXml('previousState', previous);
}
