import type { ApiCall } from '../api-calls.ts';

/**
 * What an insert from the configured instance template needs: the template itself, the new boot disk it describes,
 * the subnetwork (and an external address on it, when the template gives one), the metadata, labels, network tags and
 * service account the instance is created with, and the right to run as that service account.
 */
const CREATE_FROM_TEMPLATE = [
  'compute.instances.create',
  'compute.instanceTemplates.useReadOnly',
  'compute.disks.create',
  'compute.subnetworks.use',
  'compute.subnetworks.useExternalIp',
  'compute.instances.setMetadata',
  'compute.instances.setLabels',
  'compute.instances.setTags',
  'compute.instances.setServiceAccount',
  'iam.serviceAccounts.actAs',
] as const;

/**
 * Every Compute Engine method the gcp-compute adapter calls, with the IAM permissions each needs. The Pulumi program
 * grants the controller's service account exactly the union of these; keep the list true when the adapter changes.
 */
export const GCE_API_CALLS: readonly ApiCall[] = [
  {
    call: 'compute.instances.insert',
    permissions: CREATE_FROM_TEMPLATE,
    why: 'launches one instance from the instance template, with the intent id as requestId',
  },
  {
    call: 'compute.instances.bulkInsert',
    permissions: CREATE_FROM_TEMPLATE,
    why: 'launches several identical instances of one intent in one call',
  },
  {
    call: 'compute.instances.delete',
    permissions: ['compute.instances.delete'],
    why: 'terminates idle, unregistered, unknown and preempted instances',
  },
  {
    call: 'compute.instances.list',
    permissions: ['compute.instances.list'],
    why: "lists the cluster's instances in each configured zone (reconcile) and an intent's before re-sending an old insert",
  },
  {
    call: 'compute.zoneOperations.wait',
    permissions: ['compute.zoneOperations.get'],
    why: 'waits for insert and delete operations, whose errors (capacity among them) arrive there',
  },
];
