import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { GCE_API_CALLS } from '../../src/providers/gcp-compute/api-calls.ts';
import { permissionsOf } from '../src/controller-permissions.ts';
import { GCE_AGENT_TAG, GCE_CLUSTER_LABEL } from '../src/gcp.ts';
import { ofType, runProgram, settingsInput, type DeclaredResource } from './pulumi-mocks.ts';

const CLUSTER = 'prod-1';
const PRIVATE = ['10.0.0.0/16', '192.168.10.0/24'];
const CONTROLLER = 'serviceAccount:spillway-controller@mock-project.iam.gserviceaccount.com';

function one(resources: readonly DeclaredResource[], type: string): DeclaredResource {
  const found = ofType(resources, type);
  assert.equal(found.length, 1, `one ${type}, found ${found.length}`);
  return found[0]!;
}

describe('infra: Google Compute Engine (Pulumi mocks)', () => {
  it('declares the network, firewall, agents’ account, instance template and the controller’s roles', async () => {
    const { resources } = await runProgram(settingsInput({ aws: undefined }));
    for (const type of [
      'pulumi:providers:gcp',
      'gcp:compute/network:Network',
      'gcp:compute/subnetwork:Subnetwork',
      'gcp:compute/firewall:Firewall',
      'gcp:serviceaccount/account:Account',
      'gcp:compute/instanceTemplate:InstanceTemplate',
      'gcp:projects/iAMMember:IAMMember',
      'gcp:serviceaccount/iAMMember:IAMMember',
    ]) {
      one(resources, type);
    }
    assert.equal(ofType(resources, 'gcp:projects/iAMCustomRole:IAMCustomRole').length, 2);
    assert.deepEqual(
      resources.filter((r) => r.type.startsWith('aws:')),
      [],
      'no AWS resource when only Google Cloud is enabled',
    );
    const network = one(resources, 'gcp:compute/network:Network');
    assert.equal(network.inputs.autoCreateSubnetworks, false);
  });

  it('firewall: ingress only from the private CIDRs, to the agents’ tag, on the ports configured', async () => {
    const { resources } = await runProgram(settingsInput({ aws: undefined }));
    const firewalls = ofType(resources, 'gcp:compute/firewall:Firewall');
    for (const rule of firewalls) {
      assert.equal(rule.inputs.direction, 'INGRESS');
      assert.deepEqual(rule.inputs.sourceRanges, PRIVATE);
      assert.ok(!(rule.inputs.sourceRanges as string[]).includes('0.0.0.0/0'));
      assert.deepEqual(rule.inputs.targetTags, [GCE_AGENT_TAG]);
    }
    const allows = firewalls.flatMap((r) => r.inputs.allows as { protocol: string; ports: string[] }[]);
    assert.deepEqual(allows.map((a) => `${a.protocol}/${a.ports.join(',')}`).sort(), ['tcp/22', 'tcp/29500']);

    const closed = await runProgram(settingsInput({ aws: undefined, sshFromPrivateNetwork: false, ingressPorts: [] }));
    assert.deepEqual(
      ofType(closed.resources, 'gcp:compute/firewall:Firewall'),
      [],
      'nothing admitted: VPC denies ingress by default',
    );
  });

  it('instance template: Shielded VM, no external address, the agents’ account, labels with the cluster id', async () => {
    const { resources } = await runProgram(settingsInput({ aws: undefined }));
    const template = one(resources, 'gcp:compute/instanceTemplate:InstanceTemplate');
    assert.deepEqual(template.inputs.shieldedInstanceConfig, {
      enableSecureBoot: true,
      enableVtpm: true,
      enableIntegrityMonitoring: true,
    });
    const nics = template.inputs.networkInterfaces as { accessConfigs?: unknown[] }[];
    assert.ok(nics.length === 1 && (nics[0]!.accessConfigs ?? []).length === 0, 'no external IP');
    const account = one(resources, 'gcp:serviceaccount/account:Account');
    assert.equal(
      (template.inputs.serviceAccount as { email: string }).email,
      `${String(account.inputs.accountId)}@mock-project.iam.gserviceaccount.com`,
    );
    assert.deepEqual(template.inputs.labels, { [GCE_CLUSTER_LABEL]: CLUSTER });
    for (const disk of template.inputs.disks as { labels: Record<string, string> }[]) {
      assert.equal(disk.labels[GCE_CLUSTER_LABEL], CLUSTER);
    }
    assert.equal(
      (template.inputs.metadata as Record<string, string>)['startup-script'],
      undefined,
      'the script comes with each launch',
    );
    assert.equal(template.inputs.machineType, 'n2-standard-4');
    const provider = one(resources, 'pulumi:providers:gcp');
    assert.match(String(provider.inputs.defaultLabels), new RegExp(`"${GCE_CLUSTER_LABEL}":"${CLUSTER}"`));
  });

  it('controller: exactly the permissions of the GCE calls the adapter exports; actAs only on the agents’ account', async () => {
    const { resources } = await runProgram(settingsInput({ aws: undefined }));
    const roles = ofType(resources, 'gcp:projects/iAMCustomRole:IAMCustomRole');
    const granted = [...new Set(roles.flatMap((r) => r.inputs.permissions as string[]))].sort();
    assert.deepEqual(granted, permissionsOf(GCE_API_CALLS));

    const projectBinding = one(resources, 'gcp:projects/iAMMember:IAMMember');
    const accountBinding = one(resources, 'gcp:serviceaccount/iAMMember:IAMMember');
    const roleNamed = (name: string): DeclaredResource =>
      roles.find((r) => `projects/mock-project/roles/${String(r.inputs.roleId)}` === name)!;
    assert.equal(projectBinding.inputs.member, CONTROLLER);
    assert.equal(accountBinding.inputs.member, CONTROLLER);
    const projectPermissions = roleNamed(String(projectBinding.inputs.role)).inputs.permissions as string[];
    assert.ok(
      projectPermissions.every((p) => p.startsWith('compute.')),
      'the project-wide role holds Compute permissions only',
    );
    const accountPermissions = roleNamed(String(accountBinding.inputs.role)).inputs.permissions as string[];
    assert.deepEqual(accountPermissions, ['iam.serviceAccounts.actAs']);
    const account = one(resources, 'gcp:serviceaccount/account:Account');
    assert.equal(
      accountBinding.inputs.serviceAccountId,
      `projects/mock-project/serviceAccounts/${String(account.inputs.accountId)}@mock-project.iam.gserviceaccount.com`,
    );
    const agentMember = `serviceAccount:${String(account.inputs.accountId)}@mock-project.iam.gserviceaccount.com`;
    assert.ok(
      resources.every((r) => r.inputs.member !== agentMember),
      'the agents’ account is granted no role',
    );
  });

  it('outputs what Spillway’s config reads, with the GCE boot-script template', async () => {
    const { outputs } = await runProgram(settingsInput({ aws: undefined }));
    assert.equal(outputs.gcpProject, 'mock-project');
    assert.deepEqual(outputs.gcpZones, ['us-central1-a', 'us-central1-b']);
    assert.match(String(outputs.gcpInstanceTemplate), /spillway-prod-1-agents$/);
    assert.match(String(outputs.gcpAgentServiceAccount), /^sw-agent-prod-1@/);
    assert.deepEqual(outputs.gcpMachineTypes, ['n2-standard-4', 'n2-standard-8']);
    assert.match(String(outputs.gcpBootScriptTemplate), /Metadata-Flavor: Google/);
    assert.equal(outputs.awsRegion, undefined);
  });

  it('uses an existing network and subnetwork when given', async () => {
    const network = 'projects/mock-project/global/networks/shared';
    const subnetwork = 'projects/mock-project/regions/us-central1/subnetworks/burst';
    const { resources, outputs } = await runProgram(
      settingsInput({ aws: undefined, gcp: { ...(settingsInput().gcp as object), network: { network, subnetwork } } }),
    );
    assert.deepEqual(ofType(resources, 'gcp:compute/network:Network'), []);
    assert.equal(outputs.gcpSubnetwork, subnetwork);
    assert.equal(one(resources, 'gcp:compute/firewall:Firewall').inputs.network, network);
  });
});
