import type * as pulumi from '@pulumi/pulumi';
import { defineAws } from './aws.ts';
import { defineGcp } from './gcp.ts';
import type { InfraSettings } from './settings.ts';

/**
 * The stack outputs, flat so that one secret value hides only itself in `pulumi stack output --json`. Outputs of a
 * cloud that is not enabled are absent. `spillway config from-pulumi` turns them into spillway.yaml's providers.
 */
export interface InfraOutputs {
  readonly clusterId: string;
  readonly controllerUrl: string;
  readonly privateCidrs: string[];
  readonly awsRegion?: string;
  readonly awsVpcId?: pulumi.Output<string>;
  readonly awsSubnets?: pulumi.Output<{ id: string; zone: string }[]>;
  readonly awsSecurityGroupId?: pulumi.Output<string>;
  readonly awsLaunchTemplateId?: pulumi.Output<string>;
  readonly awsAgentRoleArn?: pulumi.Output<string>;
  readonly awsAgentInstanceProfileArn?: pulumi.Output<string>;
  readonly awsControllerPolicyArn?: pulumi.Output<string>;
  readonly awsInstanceTypes?: string[];
  readonly awsBootScriptTemplate?: string;
  readonly gcpProject?: string;
  readonly gcpRegion?: string;
  readonly gcpZones?: string[];
  readonly gcpNetwork?: pulumi.Output<string>;
  readonly gcpSubnetwork?: pulumi.Output<string>;
  readonly gcpInstanceTemplate?: pulumi.Output<string>;
  readonly gcpAgentServiceAccount?: pulumi.Output<string>;
  readonly gcpControllerRoles?: pulumi.Output<string[]>;
  readonly gcpMachineTypes?: string[];
  readonly gcpBootScriptTemplate?: string;
}

/** Declares every resource of the enabled clouds and returns the stack outputs. */
export function defineInfra(settings: InfraSettings): InfraOutputs {
  const aws = settings.aws === undefined ? undefined : defineAws(settings, settings.aws);
  const gcp = settings.gcp === undefined ? undefined : defineGcp(settings, settings.gcp);
  return {
    clusterId: settings.clusterId,
    controllerUrl: settings.controllerUrl,
    privateCidrs: settings.privateCidrs,
    ...(aws && {
      awsRegion: aws.region,
      awsVpcId: aws.vpcId,
      awsSubnets: aws.subnets,
      awsSecurityGroupId: aws.securityGroupId,
      awsLaunchTemplateId: aws.launchTemplateId,
      awsAgentRoleArn: aws.agentRoleArn,
      awsAgentInstanceProfileArn: aws.agentInstanceProfileArn,
      awsControllerPolicyArn: aws.controllerPolicyArn,
      awsInstanceTypes: aws.instanceTypes,
      awsBootScriptTemplate: aws.bootScriptTemplate,
    }),
    ...(gcp && {
      gcpProject: gcp.project,
      gcpRegion: gcp.region,
      gcpZones: gcp.zones,
      gcpNetwork: gcp.network,
      gcpSubnetwork: gcp.subnetwork,
      gcpInstanceTemplate: gcp.instanceTemplate,
      gcpAgentServiceAccount: gcp.agentServiceAccount,
      gcpControllerRoles: gcp.controllerRoles,
      gcpMachineTypes: gcp.machineTypes,
      gcpBootScriptTemplate: gcp.bootScriptTemplate,
    }),
  };
}
