/**
 * One cloud API call an adapter makes, with the IAM permissions it needs. Each adapter exports the list of the calls
 * it makes (`aws-ec2/api-calls.ts`, `gcp-compute/api-calls.ts`); the Pulumi program in `infra/` grants the
 * controller exactly the union of their permissions, so the two cannot drift.
 */
export interface ApiCall {
  /** The API method as the cloud names it, e.g. `ec2:RunInstances` or `compute.instances.insert`. */
  readonly call: string;
  /** The IAM permissions the call needs, e.g. `ec2:RunInstances`, `ec2:CreateTags`, `compute.instances.create`. */
  readonly permissions: readonly string[];
  /** Why the adapter makes the call; infra/README.md's permission table shows it. */
  readonly why: string;
}
