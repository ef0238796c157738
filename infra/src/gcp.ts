import * as compute from '@pulumi/gcp/compute/index.js';
import * as projects from '@pulumi/gcp/projects/index.js';
import { Provider } from '@pulumi/gcp/provider.js';
import * as serviceaccount from '@pulumi/gcp/serviceaccount/index.js';
import * as pulumi from '@pulumi/pulumi';
import { GCE_API_CALLS } from '../../src/providers/gcp-compute/api-calls.ts';
import { LABEL_CLUSTER } from '../../src/providers/gcp-compute/gce-instances.ts';
import { cloudBootTemplate } from '../../src/providers/cloud-boot-template.ts';
import { gceControllerGrants } from './controller-permissions.ts';
import type { GcpSettings, InfraSettings } from './settings.ts';

/** The label every Spillway resource in Google Cloud carries: the one the adapter lists instances by. */
export const GCE_CLUSTER_LABEL = LABEL_CLUSTER;
/** The network tag the firewall rules target. */
export const GCE_AGENT_TAG = 'spillway-agent';

/** What the Google Cloud half outputs; `spillway config from-pulumi` reads the `gcp*` stack outputs made from it. */
export interface GcpOutputs {
  readonly project: string;
  readonly region: string;
  readonly zones: string[];
  readonly network: pulumi.Output<string>;
  readonly subnetwork: pulumi.Output<string>;
  readonly instanceTemplate: pulumi.Output<string>;
  readonly agentServiceAccount: pulumi.Output<string>;
  readonly controllerRoles: pulumi.Output<string[]>;
  readonly machineTypes: string[];
  readonly bootScriptTemplate: string;
}

/**
 * The Google Cloud side: network and subnetwork (or existing ones), firewall rules admitting only the private
 * network, the agents' service account (no roles), a Shielded VM instance template without external addresses, and
 * the controller's custom roles with exactly the permissions GCE_API_CALLS lists.
 */
export function defineGcp(settings: InfraSettings, gcp: GcpSettings): GcpOutputs {
  const clusterId = settings.clusterId;
  const name = (suffix: string): string => `spillway-${clusterId}-${suffix}`;
  const labels = { [GCE_CLUSTER_LABEL]: clusterId };
  const provider = new Provider('gcp', { project: gcp.project, region: gcp.region, defaultLabels: labels });
  const opts = { provider };

  let network: pulumi.Output<string>;
  let subnetwork: pulumi.Output<string>;
  if ('subnetCidr' in gcp.network) {
    const net = new compute.Network(
      name('net'),
      { autoCreateSubnetworks: false, description: `Spillway ${clusterId}` },
      opts,
    );
    const subnet = new compute.Subnetwork(
      name('agents'),
      { network: net.id, region: gcp.region, ipCidrRange: gcp.network.subnetCidr, privateIpGoogleAccess: true },
      opts,
    );
    network = net.selfLink;
    subnetwork = subnet.selfLink;
  } else {
    network = pulumi.output(gcp.network.network);
    subnetwork = pulumi.output(gcp.network.subnetwork);
  }

  const allows = [
    ...(settings.sshFromPrivateNetwork ? [{ protocol: 'tcp', ports: ['22'] }] : []),
    ...settings.ingressPorts.map((p) => ({ protocol: p.protocol, ports: [String(p.port)] })),
  ];
  if (allows.length > 0) {
    new compute.Firewall(
      name('from-private'),
      {
        network,
        direction: 'INGRESS',
        description: 'what the agents accept, from the private network only',
        sourceRanges: settings.privateCidrs,
        targetTags: [GCE_AGENT_TAG],
        allows,
      },
      opts,
    );
  }

  // The agents call no Google API: the account has no roles, it only gives the instance an identity.
  const agentAccount = new serviceaccount.Account(
    name('agent'),
    { accountId: `sw-agent-${clusterId}`, displayName: `Spillway agents of ${clusterId} (no roles)` },
    opts,
  );

  const machineType = gcp.machineTypes[0] as string;
  const template = new compute.InstanceTemplate(
    name('agents'),
    {
      namePrefix: `spillway-${clusterId}-`,
      description: `Spillway agents of cluster ${clusterId}; the startup script comes with each launch`,
      machineType,
      disks: [
        {
          boot: true,
          autoDelete: true,
          sourceImage: gcp.image,
          diskSizeGb: gcp.diskSizeGb,
          diskType: 'pd-balanced',
          labels,
        },
      ],
      // No accessConfigs: no external address; the private network reaches the instances over the interconnect.
      networkInterfaces: [{ subnetwork }],
      serviceAccount: { email: agentAccount.email, scopes: ['cloud-platform'] },
      shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
      metadata: { 'block-project-ssh-keys': 'true', 'enable-oslogin': 'TRUE' },
      labels,
      tags: [GCE_AGENT_TAG],
    },
    opts,
  );

  const grants = gceControllerGrants(GCE_API_CALLS);
  const roleId = `spillwayController_${clusterId.replaceAll('-', '_')}`;
  const computeRole = new projects.IAMCustomRole(
    name('controller'),
    {
      project: gcp.project,
      roleId,
      title: `Spillway controller (${clusterId})`,
      description: 'The Compute Engine calls the Spillway controller makes, exactly',
      permissions: grants.project,
    },
    opts,
  );
  const actAsRole = new projects.IAMCustomRole(
    name('controller-act-as'),
    {
      project: gcp.project,
      roleId: `${roleId}_actAs`,
      title: `Spillway controller (${clusterId}): launch as the agents`,
      description: "Granted on the agents' service account only",
      permissions: grants.agentServiceAccount,
    },
    opts,
  );
  if (gcp.controllerMember !== undefined) {
    new projects.IAMMember(
      name('controller'),
      { project: gcp.project, role: computeRole.name, member: gcp.controllerMember },
      opts,
    );
    new serviceaccount.IAMMember(
      name('controller-act-as'),
      { serviceAccountId: agentAccount.name, role: actAsRole.name, member: gcp.controllerMember },
      opts,
    );
  }

  return {
    project: gcp.project,
    region: gcp.region,
    zones: gcp.zones,
    network,
    subnetwork,
    instanceTemplate: template.selfLink,
    agentServiceAccount: agentAccount.email,
    controllerRoles: pulumi.all([computeRole.name, actAsRole.name]),
    machineTypes: gcp.machineTypes,
    bootScriptTemplate: cloudBootTemplate({
      cloud: 'gcp-compute',
      node: settings.node,
      agentPackage: settings.agentPackage,
      installDir: settings.installDir,
    }),
  };
}
