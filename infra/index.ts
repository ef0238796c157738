// The Pulumi program: `pulumi up` in this folder runs it (Node.js 24 strips the types; see infra/README.md).
import { defineInfra } from './src/spillway-infra.ts';
import { readStackSettings } from './src/stack-config.ts';

const outputs = defineInfra(readStackSettings());

export const {
  clusterId,
  controllerUrl,
  privateCidrs,
  awsRegion,
  awsVpcId,
  awsSubnets,
  awsSecurityGroupId,
  awsLaunchTemplateId,
  awsAgentRoleArn,
  awsAgentInstanceProfileArn,
  awsControllerPolicyArn,
  awsInstanceTypes,
  awsBootScriptTemplate,
  gcpProject,
  gcpRegion,
  gcpZones,
  gcpNetwork,
  gcpSubnetwork,
  gcpInstanceTemplate,
  gcpAgentServiceAccount,
  gcpControllerRoles,
  gcpMachineTypes,
  gcpBootScriptTemplate,
} = outputs;
