import type { ApiCall } from '../../src/providers/api-calls.ts';
import { TAG_CLUSTER } from '../../src/providers/aws-ec2/launch-input.ts';

/** The union of the permissions of an adapter's calls, sorted: what the controller is granted, exactly. */
export function permissionsOf(calls: readonly ApiCall[]): string[] {
  return [...new Set(calls.flatMap((c) => c.permissions))].sort();
}

/** One IAM policy statement, as AWS's JSON has it. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string[];
  readonly Resource: string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

/** What the controller's EC2 permissions are scoped to. */
export interface AwsScope {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly clusterId: string;
  /** The VPC the agents launch in: subnets, security groups and network interfaces must be in it. */
  readonly vpcArn: string;
  readonly launchTemplateArn: string;
  /** The agents' role, the only role the controller may pass to EC2. */
  readonly agentRoleArn: string;
}

/**
 * The controller's IAM policy statements: one or more per permission of `calls`, each scoped as tightly as EC2 allows.
 * RunInstances may create only instances and volumes tagged with the cluster id, from the launch template, in the VPC;
 * CreateTags only while launching; PassRole only the agents' role, only to EC2; TerminateInstances only instances
 * carrying the cluster's tag. EC2's Describe actions support no resource-level scoping, so they are granted on `*`.
 * Throws when a permission has no scoping rule here, so an adapter that starts calling something new fails the
 * program (and its test) instead of running without the permission or with too broad a one.
 */
export function ec2ControllerStatements(calls: readonly ApiCall[], scope: AwsScope): PolicyStatement[] {
  const ec2 = (resource: string, account = scope.accountId): string =>
    `arn:${scope.partition}:ec2:${scope.region}:${account}:${resource}`;
  const clusterTag = `aws:RequestTag/${TAG_CLUSTER}`;
  const rules: Record<string, () => PolicyStatement[]> = {
    'ec2:RunInstances': (): PolicyStatement[] => [
      {
        Sid: 'RunInstancesTaggedWithTheCluster',
        Effect: 'Allow',
        Action: ['ec2:RunInstances'],
        Resource: [ec2('instance/*'), ec2('volume/*')],
        Condition: { StringEquals: { [clusterTag]: scope.clusterId } },
      },
      {
        Sid: 'RunInstancesFromTheTemplateInTheVpc',
        Effect: 'Allow',
        Action: ['ec2:RunInstances'],
        Resource: [ec2('subnet/*'), ec2('security-group/*'), ec2('network-interface/*')],
        Condition: { ArnEquals: { 'ec2:Vpc': scope.vpcArn } },
      },
      {
        Sid: 'RunInstancesWithTheTemplateImageAndSpot',
        Effect: 'Allow',
        Action: ['ec2:RunInstances'],
        Resource: [scope.launchTemplateArn, ec2('image/*', ''), ec2('spot-instances-request/*')],
      },
    ],
    'ec2:CreateTags': (): PolicyStatement[] => [
      {
        Sid: 'TagOnlyWhileLaunching',
        Effect: 'Allow',
        Action: ['ec2:CreateTags'],
        Resource: [ec2('instance/*'), ec2('volume/*')],
        Condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      },
    ],
    'iam:PassRole': (): PolicyStatement[] => [
      {
        Sid: 'PassOnlyTheAgentRoleToEc2',
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: [scope.agentRoleArn],
        Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      },
    ],
    'ec2:TerminateInstances': (): PolicyStatement[] => [
      {
        Sid: 'TerminateOnlyTheClustersInstances',
        Effect: 'Allow',
        Action: ['ec2:TerminateInstances'],
        Resource: [ec2('instance/*')],
        Condition: { StringEquals: { [`aws:ResourceTag/${TAG_CLUSTER}`]: scope.clusterId } },
      },
    ],
  };
  const statements: PolicyStatement[] = [];
  const describe: string[] = [];
  for (const permission of permissionsOf(calls)) {
    const rule = rules[permission];
    if (rule) statements.push(...rule());
    else if (/^ec2:Describe[A-Za-z]+$/.test(permission)) describe.push(permission);
    else
      throw new Error(
        `scoping the controller's EC2 policy: no rule for ${permission}; add one in infra/src/controller-permissions.ts`,
      );
  }
  if (describe.length > 0) {
    statements.push({ Sid: 'DescribeSupportsNoResourceScoping', Effect: 'Allow', Action: describe, Resource: ['*'] });
  }
  return statements;
}

/** The GCE permissions split by where they are granted: Compute ones on the project, `iam.*` on the agents' account. */
export interface GceGrants {
  /** Granted through a custom role on the project. */
  readonly project: string[];
  /** Granted through a custom role on the agents' service account only (`iam.serviceAccounts.actAs`). */
  readonly agentServiceAccount: string[];
}

/** Splits the union of `calls`' permissions; throws on a permission that is neither `compute.*` nor `iam.*`. */
export function gceControllerGrants(calls: readonly ApiCall[]): GceGrants {
  const project: string[] = [];
  const agentServiceAccount: string[] = [];
  for (const permission of permissionsOf(calls)) {
    if (permission.startsWith('compute.')) project.push(permission);
    else if (permission.startsWith('iam.serviceAccounts.')) agentServiceAccount.push(permission);
    else throw new Error(`granting the controller's GCE permissions: no rule for ${permission}`);
  }
  return { project, agentServiceAccount };
}
