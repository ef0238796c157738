import * as pulumi from '@pulumi/pulumi';
import { defineInfra } from '../src/spillway-infra.ts';
import { parseInfraSettings } from '../src/settings.ts';

/** One resource the program declared, as the engine would have received it. */
export interface DeclaredResource {
  readonly type: string;
  readonly name: string;
  // Pulumi hands inputs over as plain JSON-like values.
  readonly inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const ACCOUNT_ID = '123456789012';

/** What a provider would add to a resource's state: ids, ARNs, self links, emails and role names. */
function stateOf(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const inputs = args.inputs as Record<string, unknown>;
  const [pkg = '', module = ''] = args.type.split(':');
  const state: Record<string, unknown> = { ...inputs };
  if (pkg === 'aws') {
    const service = module.split('/')[0];
    const region = service === 'iam' ? '' : 'us-east-1';
    state.arn = `arn:aws:${service}:${region}:${ACCOUNT_ID}:${args.type.split(':')[2]}/${args.name}`;
    state.name = inputs.name ?? args.name;
  }
  if (pkg === 'gcp') {
    state.selfLink = `https://www.googleapis.com/compute/v1/projects/mock-project/${args.name}`;
    if (args.type === 'gcp:serviceaccount/account:Account') {
      state.email = `${String(inputs.accountId)}@mock-project.iam.gserviceaccount.com`;
      state.name = `projects/mock-project/serviceAccounts/${String(state.email)}`;
    }
    if (args.type === 'gcp:projects/iAMCustomRole:IAMCustomRole') {
      state.name = `projects/${String(inputs.project)}/roles/${String(inputs.roleId)}`;
    }
  }
  return state;
}

/**
 * Resolves an output (or a plain value) to its value; mocks run with preview off, so every value is known. Uses the
 * Output's `promise()` (internal to the SDK, not in its typings) so that a failure inside the program's `apply`
 * rejects at once instead of leaving the test to time out.
 */
export function valueOf<T>(output: pulumi.Input<T> | undefined): Promise<T | undefined> {
  if (output === undefined) return Promise.resolve(undefined);
  return (pulumi.output(output) as unknown as { promise(): Promise<T> }).promise();
}

/**
 * Runs the infra program on Pulumi's mocks (`pulumi.runtime.setMocks`: no CLI, engine or cloud) with stack config
 * `input`, and returns every resource declared and the stack outputs, resolved.
 */
export async function runProgram(
  input: unknown,
): Promise<{ resources: DeclaredResource[]; outputs: Record<string, unknown> }> {
  const resources: DeclaredResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        return { id: `${args.name}-id`, state: stateOf(args) };
      },
      call(args) {
        if (args.token === 'aws:ec2/getVpc:getVpc') {
          const id = String((args.inputs as { id: string }).id);
          return { id, arn: `arn:aws:ec2:us-east-1:${ACCOUNT_ID}:vpc/${id}` };
        }
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    'spillway',
    'test',
    false,
  );
  const declared = defineInfra(parseInfraSettings(input));
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(declared)) outputs[key] = await valueOf(value as pulumi.Input<unknown>);
  // Every registration has reached the mocks once the RPC queue drains.
  await pulumi.runtime.disconnect();
  return { resources, outputs };
}

/** The stack config of a cluster with both clouds, creating their networks; `overrides` replace top-level keys. */
export function settingsInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clusterId: 'prod-1',
    controllerUrl: 'https://10.0.0.5:7443',
    privateCidrs: ['10.0.0.0/16', '192.168.10.0/24'],
    sshFromPrivateNetwork: true,
    ingressPorts: [{ protocol: 'tcp', port: 29500, description: 'torch distributed' }],
    node: { url: 'https://nodejs.org/dist/v24.11.1/node-v24.11.1-linux-x64.tar.xz', sha256: 'a'.repeat(64) },
    agentPackage: { url: 'https://10.0.0.5:7443/packages/spillway-0.1.0.tgz', sha256: 'b'.repeat(64) },
    aws: {
      region: 'us-east-1',
      vpc: {
        cidr: '10.20.0.0/16',
        subnets: [
          { zone: 'us-east-1a', cidr: '10.20.1.0/24' },
          { zone: 'us-east-1b', cidr: '10.20.2.0/24' },
        ],
        transitGatewayId: 'tgw-0123456789abcdef0',
      },
      imageId: 'ami-0123456789abcdef0',
      instanceTypes: ['m7i.large', 'c7i.xlarge'],
      controllerRoleName: 'spillway-controller',
    },
    gcp: {
      project: 'mock-project',
      region: 'us-central1',
      zones: ['us-central1-a', 'us-central1-b'],
      network: { subnetCidr: '10.30.0.0/20' },
      image: 'projects/debian-cloud/global/images/family/debian-12',
      machineTypes: ['n2-standard-4', 'n2-standard-8'],
      controllerMember: 'serviceAccount:spillway-controller@mock-project.iam.gserviceaccount.com',
    },
    ...overrides,
  };
}

/** The resources of one type. */
export function ofType(resources: readonly DeclaredResource[], type: string): DeclaredResource[] {
  return resources.filter((r) => r.type === type);
}
