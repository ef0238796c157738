import { z } from 'zod';
import { parseWith } from '../../src/config/validate.ts';

const nonEmpty = z.string().min(1);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (sha256sum prints them)');
const httpUrl = z.url({ protocol: /^https?$/ });
const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** An IPv4 CIDR of a private network: never `0.0.0.0/0` or another range wider than /8. */
const privateCidr = z.string().refine((cidr) => {
  const m = IPV4_CIDR.exec(cidr);
  if (!m) return false;
  const [a, b, c, d, bits] = m.slice(1).map(Number) as [number, number, number, number, number];
  return [a, b, c, d].every((o) => o <= 255) && bits >= 8 && bits <= 32;
}, 'expected an IPv4 CIDR no wider than /8 (0.0.0.0/0 is refused: ingress comes from the private network only)');

/** A port the agents accept from the private network, beyond what the agent itself needs (it needs none). */
const ingressPort = z
  .object({
    protocol: z.enum(['tcp', 'udp']),
    port: z.number().int().min(1).max(65_535),
    description: nonEmpty.default('task traffic from the private network'),
  })
  .strict();

const download = z.object({ url: httpUrl, sha256 }).strict();

const awsSettings = z
  .object({
    region: nonEmpty.regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as us-east-1'),
    /** A VPC to create (cidr and one subnet per zone), or existing ids. */
    vpc: z.union([
      z
        .object({
          cidr: privateCidr,
          subnets: z.array(z.object({ zone: nonEmpty, cidr: privateCidr }).strict()).min(1),
          /** A transit gateway that reaches the private network (VPN or Direct Connect); routes go to it. */
          transitGatewayId: nonEmpty.optional(),
        })
        .strict(),
      z
        .object({
          id: nonEmpty.regex(/^vpc-/, 'expected a VPC id (vpc-...)'),
          subnets: z
            .array(z.object({ id: nonEmpty.regex(/^subnet-/, 'expected a subnet id'), zone: nonEmpty }).strict())
            .min(1),
        })
        .strict(),
    ]),
    /** The agents' AMI: any Linux with sh, curl, tar, sha256sum and cloud-init. */
    imageId: nonEmpty.regex(/^ami-/, 'expected an AMI id (ami-...)'),
    rootDeviceName: nonEmpty.default('/dev/xvda'),
    volumeSizeGiB: z.number().int().min(8).max(16_384).default(50),
    /** A customer-managed KMS key for the volumes; default the account's EBS key. */
    kmsKeyArn: nonEmpty.optional(),
    /** The instance types Spillway may launch (capacity and prices come from its catalog). */
    instanceTypes: z.array(nonEmpty).min(1),
    /** An existing IAM role the controller runs as; the controller policy is attached to it when given. */
    controllerRoleName: nonEmpty.optional(),
  })
  .strict();

const gcpSettings = z
  .object({
    project: nonEmpty,
    region: nonEmpty,
    zones: z.array(nonEmpty).min(1),
    /** A network to create (one subnetwork in the region), or existing self links. */
    network: z.union([
      z.object({ subnetCidr: privateCidr }).strict(),
      z.object({ network: nonEmpty, subnetwork: nonEmpty }).strict(),
    ]),
    /** The agents' image: any Linux with sh, curl, tar and sha256sum whose guest runs `startup-script`. */
    image: nonEmpty,
    diskSizeGb: z.number().int().min(10).max(65_536).default(50),
    /** The machine types Spillway may launch; the first is the template's. */
    machineTypes: z.array(nonEmpty).min(1),
    /** Who runs the controller (`serviceAccount:...@...`, `principal://...`): granted the controller's roles. */
    controllerMember: nonEmpty.optional(),
  })
  .strict();

/** The stack config of the `spillway` namespace, validated (see infra/README.md for each key). */
export const infraSettingsSchema = z
  .object({
    clusterId: nonEmpty.regex(/^[a-z0-9][a-z0-9-]{0,20}$/, 'use lowercase letters, digits and dashes (at most 21)'),
    /** The controller's URL as agents reach it over the VPN or interconnect. */
    controllerUrl: httpUrl,
    /** The private network's CIDRs: the only sources of ingress. */
    privateCidrs: z.array(privateCidr).min(1),
    /** SSH (tcp/22) from the private network, for operators; off by default. */
    sshFromPrivateNetwork: z.boolean().default(false),
    /** More ports tasks accept from the private network (and from each other); none by default. */
    ingressPorts: z.array(ingressPort).default([]),
    node: download,
    agentPackage: download,
    installDir: nonEmpty.default('/opt/spillway'),
    aws: awsSettings.optional(),
    gcp: gcpSettings.optional(),
  })
  .strict()
  .refine((s) => s.aws !== undefined || s.gcp !== undefined, 'enable at least one cloud: set aws or gcp');

export type InfraSettings = z.output<typeof infraSettingsSchema>;
export type AwsSettings = z.output<typeof awsSettings>;
export type GcpSettings = z.output<typeof gcpSettings>;

/** The keys of the `spillway` config namespace that parseInfraSettings reads. */
export const SETTING_KEYS = Object.keys(infraSettingsSchema.shape) as readonly string[];

/** Validates the stack config; throws a ValidationError naming the key (`aws.vpc.subnets.0.cidr`). */
export function parseInfraSettings(input: unknown): InfraSettings {
  return parseWith(infraSettingsSchema, input);
}
