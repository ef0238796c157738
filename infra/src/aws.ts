import * as ec2 from '@pulumi/aws/ec2/index.js';
import * as iam from '@pulumi/aws/iam/index.js';
import { Provider } from '@pulumi/aws/provider.js';
import * as pulumi from '@pulumi/pulumi';
import { EC2_API_CALLS } from '../../src/providers/aws-ec2/api-calls.ts';
import { TAG_CLUSTER } from '../../src/providers/aws-ec2/launch-input.ts';
import { cloudBootTemplate } from '../../src/providers/cloud-boot-template.ts';
import { ec2ControllerStatements } from './controller-permissions.ts';
import type { AwsSettings, InfraSettings } from './settings.ts';

/** What the AWS half outputs; `spillway config from-pulumi` reads the `aws*` stack outputs made from it. */
export interface AwsOutputs {
  readonly region: string;
  readonly vpcId: pulumi.Output<string>;
  readonly subnets: pulumi.Output<{ id: string; zone: string }[]>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly launchTemplateId: pulumi.Output<string>;
  readonly agentRoleArn: pulumi.Output<string>;
  readonly agentInstanceProfileArn: pulumi.Output<string>;
  readonly controllerPolicyArn: pulumi.Output<string>;
  readonly instanceTypes: string[];
  readonly bootScriptTemplate: string;
}

/** The ARN's partition and account (`arn:PARTITION:service:region:ACCOUNT:...`). */
function arnParts(arn: string): { partition: string; accountId: string } {
  const [, partition = 'aws', , , accountId = ''] = arn.split(':');
  return { partition, accountId };
}

/**
 * The AWS side: network (a VPC with private subnets and routes to the private network, or existing ids), the agents'
 * security group, role and instance profile, the launch template every launch starts from, and the controller's
 * policy. Every resource carries the cluster tag.
 */
export function defineAws(settings: InfraSettings, aws: AwsSettings): AwsOutputs {
  const clusterId = settings.clusterId;
  // Every permission needs a scoping rule: checked before any resource is declared, so a gap stops the program at once.
  ec2ControllerStatements(EC2_API_CALLS, {
    partition: 'aws',
    region: aws.region,
    accountId: '000000000000',
    clusterId,
    vpcArn: 'arn:aws:ec2:::vpc/check',
    launchTemplateArn: 'arn:aws:ec2:::launch-template/check',
    agentRoleArn: 'arn:aws:iam:::role/check',
  });
  const name = (suffix: string): string => `spillway-${clusterId}-${suffix}`;
  const tags = { Name: `spillway-${clusterId}`, [TAG_CLUSTER]: clusterId };
  const provider = new Provider('aws', { region: aws.region, defaultTags: { tags: { [TAG_CLUSTER]: clusterId } } });
  const opts = { provider };

  let vpcId: pulumi.Output<string>;
  let vpcArn: pulumi.Output<string>;
  let subnets: pulumi.Output<{ id: string; zone: string }[]>;
  if ('cidr' in aws.vpc) {
    const vpc = new ec2.Vpc(
      name('vpc'),
      { cidrBlock: aws.vpc.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags },
      opts,
    );
    vpcId = vpc.id;
    vpcArn = vpc.arn;
    const created = aws.vpc.subnets.map(
      (s) =>
        new ec2.Subnet(
          name(`subnet-${s.zone}`),
          { vpcId: vpc.id, cidrBlock: s.cidr, availabilityZone: s.zone, mapPublicIpOnLaunch: false, tags },
          opts,
        ),
    );
    const transitGatewayId = aws.vpc.transitGatewayId;
    const routes = new ec2.RouteTable(
      name('routes'),
      {
        vpcId: vpc.id,
        routes:
          transitGatewayId === undefined
            ? []
            : settings.privateCidrs.map((cidrBlock) => ({ cidrBlock, transitGatewayId })),
        tags,
      },
      opts,
    );
    created.forEach((subnet, i) => {
      new ec2.RouteTableAssociation(name(`routes-${i}`), { subnetId: subnet.id, routeTableId: routes.id }, opts);
    });
    subnets = pulumi
      .all(created.map((s) => pulumi.all([s.id, s.availabilityZone])))
      .apply((pairs) => pairs.map(([id, zone]) => ({ id, zone })));
  } else {
    vpcId = pulumi.output(aws.vpc.id);
    const existing = ec2.getVpcOutput({ id: aws.vpc.id }, opts);
    vpcArn = existing.arn;
    subnets = pulumi.output(aws.vpc.subnets.map((s) => ({ ...s })));
  }

  const ingress = [
    ...(settings.sshFromPrivateNetwork
      ? [
          {
            protocol: 'tcp',
            fromPort: 22,
            toPort: 22,
            cidrBlocks: settings.privateCidrs,
            description: 'ssh from the private network',
          },
        ]
      : []),
    ...settings.ingressPorts.map((p) => ({
      protocol: p.protocol,
      fromPort: p.port,
      toPort: p.port,
      cidrBlocks: settings.privateCidrs,
      self: true,
      description: p.description,
    })),
  ];
  const securityGroup = new ec2.SecurityGroup(
    name('agents'),
    {
      vpcId,
      description: `Spillway agents of cluster ${clusterId}: ingress only from the private network`,
      ingress,
      // Agents dial out only: to the controller, to the package and to what their tasks reach.
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'outbound' }],
      tags,
    },
    opts,
  );

  // The agents call no AWS API: the role has no policy, it only gives the instance an identity.
  const agentRole = new iam.Role(
    name('agent'),
    {
      description: `Spillway agents of cluster ${clusterId}: no permissions`,
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
      tags,
    },
    opts,
  );
  const profile = new iam.InstanceProfile(name('agent'), { role: agentRole.name, tags }, opts);

  const launchTemplate = new ec2.LaunchTemplate(
    name('agents'),
    {
      description: `Spillway agents of cluster ${clusterId}; user data comes with each launch`,
      imageId: aws.imageId,
      iamInstanceProfile: { arn: profile.arn },
      vpcSecurityGroupIds: [securityGroup.id],
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpTokens: 'required',
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: 'disabled',
      },
      blockDeviceMappings: [
        {
          deviceName: aws.rootDeviceName,
          ebs: {
            encrypted: 'true',
            deleteOnTermination: 'true',
            volumeSize: aws.volumeSizeGiB,
            volumeType: 'gp3',
            ...(aws.kmsKeyArn === undefined ? {} : { kmsKeyId: aws.kmsKeyArn }),
          },
        },
      ],
      tagSpecifications: [
        { resourceType: 'instance', tags },
        { resourceType: 'volume', tags },
      ],
      updateDefaultVersion: true,
      tags,
    },
    opts,
  );

  const document = pulumi.all([vpcArn, launchTemplate.arn, agentRole.arn]).apply(([vpc, template, role]) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: ec2ControllerStatements(EC2_API_CALLS, {
        ...arnParts(template),
        region: aws.region,
        clusterId,
        vpcArn: vpc,
        launchTemplateArn: template,
        agentRoleArn: role,
      }),
    }),
  );
  const controllerPolicy = new iam.Policy(
    name('controller'),
    {
      description: `What the Spillway controller of cluster ${clusterId} needs in EC2, exactly`,
      policy: document,
      tags,
    },
    opts,
  );
  if (aws.controllerRoleName !== undefined) {
    new iam.RolePolicyAttachment(
      name('controller'),
      { role: aws.controllerRoleName, policyArn: controllerPolicy.arn },
      opts,
    );
  }

  return {
    region: aws.region,
    vpcId,
    subnets,
    securityGroupId: securityGroup.id,
    launchTemplateId: launchTemplate.id,
    agentRoleArn: agentRole.arn,
    agentInstanceProfileArn: profile.arn,
    controllerPolicyArn: controllerPolicy.arn,
    instanceTypes: aws.instanceTypes,
    bootScriptTemplate: cloudBootTemplate({
      cloud: 'aws-ec2',
      node: settings.node,
      agentPackage: settings.agentPackage,
      installDir: settings.installDir,
    }),
  };
}
