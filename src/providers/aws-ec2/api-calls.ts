import type { ApiCall } from '../api-calls.ts';

/**
 * Every EC2 action the aws-ec2 adapter calls (see ec2-api.ts, the adapter's second seam), with the IAM actions each
 * needs. The Pulumi program in `infra/` grants the controller exactly the union of these, scoped by the cluster tag
 * where EC2 allows it; keep the list true when the adapter changes (a test compares it with Ec2Api's methods).
 */
export const EC2_API_CALLS: readonly ApiCall[] = [
  {
    call: 'ec2:RunInstances',
    permissions: ['ec2:RunInstances', 'ec2:CreateTags', 'iam:PassRole'],
    why:
      "launches an intent's instances from the launch template (ClientToken = intent id); CreateTags is needed " +
      "because the instances and volumes are tagged at launch (TagSpecifications), PassRole because the template's " +
      "instance profile hands the agents' role to EC2",
  },
  {
    call: 'ec2:TerminateInstances',
    permissions: ['ec2:TerminateInstances'],
    why: "terminates idle, unregistered, unknown and interrupted instances (only those carrying the cluster's tag)",
  },
  {
    call: 'ec2:DescribeInstances',
    permissions: ['ec2:DescribeInstances'],
    why: "lists the cluster's instances by tag, for reconcile and adoption after a crash",
  },
  {
    call: 'ec2:DescribeInstanceTypes',
    permissions: ['ec2:DescribeInstanceTypes'],
    why: 'reads the allowed types’ vCPUs, memory and GPUs for price refreshes',
  },
  {
    call: 'ec2:DescribeSpotPriceHistory',
    permissions: ['ec2:DescribeSpotPriceHistory'],
    why: 'reads current spot prices in the configured zones',
  },
];
