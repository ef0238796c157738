import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { ValidationError } from '../../src/core/errors.ts';
import { EC2_API_CALLS } from '../../src/providers/aws-ec2/api-calls.ts';
import { TAG_CLUSTER } from '../../src/providers/aws-ec2/launch-input.ts';
import { renderAgentBootScript } from '../../src/providers/boot-script.ts';
import { permissionsOf, type PolicyStatement } from '../src/controller-permissions.ts';
import { parseInfraSettings } from '../src/settings.ts';
import { ACCOUNT_ID, ofType, runProgram, settingsInput, type DeclaredResource } from './pulumi-mocks.ts';

const CLUSTER = 'prod-1';
const PRIVATE = ['10.0.0.0/16', '192.168.10.0/24'];

function one(resources: readonly DeclaredResource[], type: string): DeclaredResource {
  const found = ofType(resources, type);
  assert.equal(found.length, 1, `one ${type}, found ${found.length}`);
  return found[0]!;
}

function controllerStatements(resources: readonly DeclaredResource[]): PolicyStatement[] {
  const policy = one(resources, 'aws:iam/policy:Policy');
  return (JSON.parse(String(policy.inputs.policy)) as { Statement: PolicyStatement[] }).Statement;
}

describe('infra: AWS (Pulumi mocks)', () => {
  it('declares the network, the agents’ group, role, profile and launch template, and the controller policy', async () => {
    const { resources } = await runProgram(settingsInput({ gcp: undefined }));
    const counts = (type: string): number => ofType(resources, type).length;
    assert.equal(counts('pulumi:providers:aws'), 1);
    assert.equal(counts('aws:ec2/vpc:Vpc'), 1);
    assert.equal(counts('aws:ec2/subnet:Subnet'), 2);
    assert.equal(counts('aws:ec2/routeTableAssociation:RouteTableAssociation'), 2);
    assert.equal(counts('aws:ec2/securityGroup:SecurityGroup'), 1);
    assert.equal(counts('aws:iam/role:Role'), 1);
    assert.equal(counts('aws:iam/instanceProfile:InstanceProfile'), 1);
    assert.equal(counts('aws:ec2/launchTemplate:LaunchTemplate'), 1);
    assert.equal(counts('aws:iam/policy:Policy'), 1);
    assert.equal(ofType(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment').length, 1);
    assert.deepEqual(
      resources.filter((r) => r.type.startsWith('gcp:') || r.type === 'pulumi:providers:gcp'),
      [],
      'no Google Cloud resource when only AWS is enabled',
    );

    for (const subnet of ofType(resources, 'aws:ec2/subnet:Subnet')) {
      assert.equal(subnet.inputs.mapPublicIpOnLaunch, false, 'subnets give no public addresses');
    }
    const routes = one(resources, 'aws:ec2/routeTable:RouteTable');
    assert.deepEqual(
      (routes.inputs.routes as { cidrBlock: string; transitGatewayId: string }[]).map((r) => [
        r.cidrBlock,
        r.transitGatewayId,
      ]),
      PRIVATE.map((cidr) => [cidr, 'tgw-0123456789abcdef0']),
      'the private network is reached through the transit gateway',
    );
    const attachment = one(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment');
    assert.equal(attachment.inputs.role, 'spillway-controller');
  });

  it('admits ingress only from the private CIDRs, only on the ports configured', async () => {
    const { resources } = await runProgram(settingsInput({ gcp: undefined }));
    const group = one(resources, 'aws:ec2/securityGroup:SecurityGroup');
    const ingress = group.inputs.ingress as {
      cidrBlocks?: string[];
      ipv6CidrBlocks?: string[];
      fromPort: number;
      toPort: number;
      protocol: string;
    }[];
    assert.deepEqual(ingress.map((r) => `${r.protocol}/${r.fromPort}-${r.toPort}`).sort(), [
      'tcp/22-22',
      'tcp/29500-29500',
    ]);
    for (const rule of ingress) {
      assert.deepEqual(rule.cidrBlocks, PRIVATE);
      assert.ok(!rule.cidrBlocks?.includes('0.0.0.0/0'));
      assert.equal(rule.ipv6CidrBlocks, undefined, 'no IPv6 ingress at all');
    }

    const closed = await runProgram(settingsInput({ gcp: undefined, sshFromPrivateNetwork: false, ingressPorts: [] }));
    const closedGroup = one(closed.resources, 'aws:ec2/securityGroup:SecurityGroup');
    assert.deepEqual(closedGroup.inputs.ingress ?? [], [], 'the agent itself needs no ingress: it dials out');
  });

  it('refuses a private CIDR that is the whole internet, naming the key', () => {
    for (const cidr of ['0.0.0.0/0', '10.0.0.0/4', 'not-a-cidr']) {
      assert.throws(
        () => parseInfraSettings(settingsInput({ privateCidrs: ['10.0.0.0/16', cidr] })),
        (err: unknown) => err instanceof ValidationError && err.field === 'privateCidrs.1',
        cidr,
      );
    }
  });

  it('launch template: IMDSv2 required, encrypted volumes, the agents’ profile and group, tags with the cluster id', async () => {
    const { resources } = await runProgram(settingsInput({ gcp: undefined }));
    const template = one(resources, 'aws:ec2/launchTemplate:LaunchTemplate');
    const metadata = template.inputs.metadataOptions as Record<string, unknown>;
    assert.equal(metadata.httpTokens, 'required');
    assert.equal(metadata.httpEndpoint, 'enabled');
    assert.equal(metadata.httpPutResponseHopLimit, 1, 'tasks in containers cannot reach the metadata service');
    const devices = template.inputs.blockDeviceMappings as { ebs: Record<string, unknown> }[];
    assert.ok(devices.length >= 1);
    for (const device of devices) assert.equal(device.ebs.encrypted, 'true');
    assert.equal(template.inputs.userData, undefined, 'user data comes with each launch, never in the template');
    const profile = one(resources, 'aws:iam/instanceProfile:InstanceProfile');
    assert.equal(
      (template.inputs.iamInstanceProfile as { arn: string }).arn,
      `arn:aws:iam::${ACCOUNT_ID}:InstanceProfile/${profile.name}`,
    );
    const group = one(resources, 'aws:ec2/securityGroup:SecurityGroup');
    assert.deepEqual(template.inputs.vpcSecurityGroupIds, [`${group.name}-id`]);

    const specs = template.inputs.tagSpecifications as { resourceType: string; tags: Record<string, string> }[];
    assert.deepEqual(specs.map((s) => s.resourceType).sort(), ['instance', 'volume']);
    for (const spec of specs) assert.equal(spec.tags[TAG_CLUSTER], CLUSTER);
    const taggable = resources.filter(
      (r) =>
        r.type.startsWith('aws:') &&
        r.type !== 'aws:iam/rolePolicyAttachment:RolePolicyAttachment' &&
        r.type !== 'aws:ec2/routeTableAssociation:RouteTableAssociation',
    );
    assert.ok(taggable.length >= 8);
    for (const r of taggable)
      assert.equal((r.inputs.tags as Record<string, string>)[TAG_CLUSTER], CLUSTER, `${r.type} ${r.name}`);
    const provider = one(resources, 'pulumi:providers:aws');
    assert.match(String(provider.inputs.defaultTags), new RegExp(`"${TAG_CLUSTER}":"${CLUSTER}"`));
  });

  it('the agents’ role trusts EC2 only and carries no permission', async () => {
    const { resources } = await runProgram(settingsInput({ gcp: undefined }));
    const role = one(resources, 'aws:iam/role:Role');
    const trust = JSON.parse(String(role.inputs.assumeRolePolicy)) as {
      Statement: { Principal: unknown; Action: string }[];
    };
    assert.deepEqual(
      trust.Statement.map((s) => [s.Principal, s.Action]),
      [[{ Service: 'ec2.amazonaws.com' }, 'sts:AssumeRole']],
    );
    assert.equal(role.inputs.managedPolicyArns, undefined);
    assert.equal(role.inputs.inlinePolicies, undefined);
    const attachments = ofType(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment');
    assert.ok(
      attachments.every((a) => a.inputs.role !== role.name),
      'no policy is attached to the agents’ role',
    );
  });

  it('controller policy: exactly the permissions of the EC2 calls the adapter exports, scoped by tag and VPC', async () => {
    const { resources } = await runProgram(settingsInput({ gcp: undefined }));
    const statements = controllerStatements(resources);
    const granted = [...new Set(statements.flatMap((s) => s.Action))].sort();
    assert.deepEqual(granted, permissionsOf(EC2_API_CALLS));
    assert.ok(granted.includes('ec2:CreateTags') && granted.includes('iam:PassRole'));
    for (const s of statements) {
      assert.equal(s.Effect, 'Allow');
      if (s.Resource.includes('*'))
        assert.ok(
          s.Action.every((a) => a.startsWith('ec2:Describe')),
          `${s.Sid} is unscoped`,
        );
    }
    const find = (action: string, resource: RegExp): PolicyStatement[] =>
      statements.filter((s) => s.Action.includes(action) && s.Resource.some((r) => resource.test(r)));
    const launchInstance = find('ec2:RunInstances', /:instance\/\*$/);
    assert.equal(launchInstance.length, 1);
    assert.deepEqual(launchInstance[0]!.Condition, { StringEquals: { [`aws:RequestTag/${TAG_CLUSTER}`]: CLUSTER } });
    const vpcScoped = find('ec2:RunInstances', /:subnet\/\*$/);
    assert.deepEqual(vpcScoped[0]!.Condition, {
      ArnEquals: { 'ec2:Vpc': `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:Vpc/spillway-${CLUSTER}-vpc` },
    });
    const terminate = find('ec2:TerminateInstances', /:instance\/\*$/);
    assert.deepEqual(terminate[0]!.Condition, { StringEquals: { [`aws:ResourceTag/${TAG_CLUSTER}`]: CLUSTER } });
    const tagging = find('ec2:CreateTags', /:instance\/\*$/);
    assert.deepEqual(tagging[0]!.Condition, { StringEquals: { 'ec2:CreateAction': 'RunInstances' } });
    const role = one(resources, 'aws:iam/role:Role');
    const passRole = statements.filter((s) => s.Action.includes('iam:PassRole'));
    assert.deepEqual(
      passRole.map((s) => s.Resource),
      [[`arn:aws:iam::${ACCOUNT_ID}:Role/${role.name}`]],
    );
    assert.deepEqual(passRole[0]!.Condition, { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
  });

  it('uses an existing VPC and subnets when given their ids, and scopes the policy to that VPC', async () => {
    const subnets = [{ id: 'subnet-0aaa', zone: 'us-east-1a' }];
    const { resources, outputs } = await runProgram(
      settingsInput({
        gcp: undefined,
        aws: { ...(settingsInput().aws as object), vpc: { id: 'vpc-0123', subnets } },
      }),
    );
    assert.deepEqual(ofType(resources, 'aws:ec2/vpc:Vpc'), []);
    assert.deepEqual(ofType(resources, 'aws:ec2/subnet:Subnet'), []);
    assert.deepEqual(outputs.awsSubnets, subnets);
    assert.equal(outputs.awsVpcId, 'vpc-0123');
    const vpcScoped = controllerStatements(resources).find((s) => s.Resource.some((r) => r.endsWith(':subnet/*')));
    assert.deepEqual(vpcScoped?.Condition, {
      ArnEquals: { 'ec2:Vpc': `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:vpc/vpc-0123` },
    });
  });

  it('outputs what Spillway’s config reads, and a boot-script template the adapter can render', async () => {
    const { outputs } = await runProgram(settingsInput({ gcp: undefined }));
    assert.equal(outputs.clusterId, CLUSTER);
    assert.equal(outputs.awsRegion, 'us-east-1');
    assert.deepEqual(outputs.awsSubnets, [
      { id: `spillway-${CLUSTER}-subnet-us-east-1a-id`, zone: 'us-east-1a' },
      { id: `spillway-${CLUSTER}-subnet-us-east-1b-id`, zone: 'us-east-1b' },
    ]);
    assert.equal(outputs.awsLaunchTemplateId, `spillway-${CLUSTER}-agents-id`);
    assert.deepEqual(outputs.awsInstanceTypes, ['m7i.large', 'c7i.xlarge']);
    assert.equal(outputs.gcpProject, undefined);
    const template = String(outputs.awsBootScriptTemplate);
    assert.match(template, /node-v24\.11\.1-linux-x64\.tar\.xz/);
    assert.match(template, /\{\{credential\}\}/);
    const script = renderAgentBootScript(
      {
        bootDelaySeconds: 0,
        caBundle: '',
        caFile: '/etc/spillway/ca.pem',
        credential: 'spw_boot_x',
        agentCommand: ['spillway', 'agent'],
        controllerUrl: 'https://10.0.0.5:7443',
        cpu: '2000m',
        memory: '8192Mi',
        netMbps: 1000,
        gpuFlags: [],
        labels: '',
      },
      template,
    );
    assert.doesNotMatch(script, /\{\{/);
  });
});
