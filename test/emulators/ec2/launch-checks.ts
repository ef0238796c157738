import type { EmulatedInstanceType } from './catalog.ts';
import { Ec2Fault } from './ec2-fault.ts';
import { isLive, type EmulatedInstance } from './emulated-instance.ts';
import type { QueryParams } from './query.ts';

export interface EmulatedSubnet {
  readonly id: string;
  readonly zone: string;
}

export interface EmulatedLaunchTemplate {
  readonly id: string;
  readonly name: string;
  readonly imageId: string;
}

/** The launch template RunInstances names (by id or name), or undefined without one; EC2's NotFound errors else. */
export function launchTemplateOf(
  q: QueryParams,
  templates: readonly EmulatedLaunchTemplate[],
): EmulatedLaunchTemplate | undefined {
  const id = q.string('LaunchTemplate.LaunchTemplateId');
  const name = q.string('LaunchTemplate.LaunchTemplateName');
  if (id !== undefined) {
    const found = templates.find((t) => t.id === id);
    if (!found) {
      throw new Ec2Fault(
        'InvalidLaunchTemplateId.NotFound',
        `The specified launch template, with template ID ${id}, does not exist.`,
      );
    }
    return found;
  }
  if (name !== undefined) {
    const found = templates.find((t) => t.name === name);
    if (!found) {
      throw new Ec2Fault(
        'InvalidLaunchTemplateName.NotFoundException',
        `The specified launch template, with template name ${name}, does not exist.`,
      );
    }
    return found;
  }
  return undefined;
}

/** The subnet RunInstances launches into: `SubnetId`, else the first of `Placement.AvailabilityZone` or any. */
export function subnetOf(q: QueryParams, subnets: readonly EmulatedSubnet[]): EmulatedSubnet {
  const id = q.string('SubnetId');
  if (id === undefined) {
    const zone = q.string('Placement.AvailabilityZone');
    const subnet = subnets.find((s) => zone === undefined || s.zone === zone);
    if (!subnet) throw new Ec2Fault('InvalidParameterValue', `Invalid availability zone: [${zone}]`);
    return subnet;
  }
  const subnet = subnets.find((s) => s.id === id);
  if (!subnet) throw new Ec2Fault('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
  return subnet;
}

/** The account's limits: live instances (InstanceLimitExceeded) and on-demand vCPUs (VcpuLimitExceeded). */
export function checkQuotas(opts: {
  readonly instances: Iterable<EmulatedInstance>;
  readonly types: readonly EmulatedInstanceType[];
  readonly quotas: { readonly maxInstances?: number; readonly maxOnDemandVcpus?: number };
  readonly type: EmulatedInstanceType;
  readonly count: number;
  readonly spot: boolean;
}): void {
  const live = [...opts.instances].filter(isLive);
  const { maxInstances, maxOnDemandVcpus } = opts.quotas;
  if (maxInstances !== undefined && live.length + opts.count > maxInstances) {
    throw new Ec2Fault(
      'InstanceLimitExceeded',
      `Your quota allows for ${Math.max(0, maxInstances - live.length)} more running instance(s). ` +
        `You requested at least ${opts.count}`,
    );
  }
  if (opts.spot || maxOnDemandVcpus === undefined) return;
  const vcpus = (t: string): number => opts.types.find((x) => x.instanceType === t)?.vcpus ?? 0;
  const used = live.filter((i) => i.lifecycle === 'on-demand').reduce((sum, i) => sum + vcpus(i.instanceType), 0);
  if (used + opts.count * opts.type.vcpus > maxOnDemandVcpus) {
    throw new Ec2Fault(
      'VcpuLimitExceeded',
      `You have requested more vCPU capacity than your current vCPU limit of ${maxOnDemandVcpus} allows for the ` +
        'instance bucket that the specified instance type belongs to. Please visit ' +
        'http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.',
    );
  }
}
